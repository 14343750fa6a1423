"""Shared pieces of the batch tests: tiny parts, a worker killer, folder checks."""
import json
import os
import signal
import threading
import time

import numpy as np

from scratchlight.io import write_exr, write_npz
from scratchlight.surface import synthesize

TINY = 'resolution = 24\niterations = 2\nspp = 2\nfinal_spp = 4\n'


def make_parts(folder, n=2):
    """``n`` tiny synthetic face-milled parts (48 points), a corrupt one and a light."""
    parts = folder / "parts"
    parts.mkdir(parents=True, exist_ok=True)
    for k in range(1, n + 1):
        write_npz(str(parts / f"fm-{k}.npz"), synthesize("face-mill", size=48, scratches=1, seed=k))
    (parts / "corrupt.npz").write_bytes(b"PK\x03\x04 this is not a height map")
    light = np.full((8, 16, 3), 0.2, np.float32)
    light[1:3] = 0.9
    write_exr(str(folder / "light.exr"), light)
    return parts


class WorkerKiller(threading.Thread):
    """Kill (SIGKILL) the first worker process seen running a row: its pid is in the name of
    the row's work folder ``DIR/.work/<row>.<pid>.<random>``."""

    def __init__(self, out_dir, delay=0.3):
        super().__init__(daemon=True)
        self.work = os.path.join(out_dir, ".work")
        self.delay, self.killed, self.row = delay, None, None
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                entries = [e for e in os.listdir(self.work) if not e.startswith("token-")]
            except FileNotFoundError:
                entries = []
            if entries:
                row, pid, _ = entries[0].rsplit(".", 2)
                time.sleep(self.delay)  # well into the row
                os.kill(int(pid), signal.SIGKILL)
                self.killed, self.row = int(pid), row
                return
            time.sleep(0.02)


def check_folder(out_dir, complete_rows):
    """The batch folder holds exactly the complete rows' folders (each with row.json and its
    command's config file) plus the report, and nothing partial."""
    entries = set(os.listdir(out_dir))
    assert not [e for e in entries if e.startswith((".tmp-", ".old-", ".work"))], entries
    folders = {e for e in entries if os.path.isdir(os.path.join(out_dir, e))} - {"lights"}
    assert folders == set(complete_rows), (folders, complete_rows)
    for name in complete_rows:
        meta = json.load(open(os.path.join(out_dir, name, "row.json")))
        assert meta["name"] == name
    return entries


def die(task):
    """A worker function that kills its own process (for the executors' retry tests)."""
    os.kill(os.getpid(), signal.SIGKILL)
