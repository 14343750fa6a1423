"""The program ends as soon as its command is done (``cli.entry``), with its exit code and
complete files, and leaves to Python's own exit whatever still runs."""
import subprocess
import sys

import numpy as np

CLI = [sys.executable, "-m", "scratchlight.cli"]


def test_exit_codes_and_complete_files(tmp_path):
    out = tmp_path / "part.npz"
    done = subprocess.run([*CLI, "synth", "--size", "16", "--out", str(out)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and "wrote" in done.stdout
    with np.load(out) as z:  # written in full before the process ended
        assert z["heights"].shape == (16, 16)
    bad = subprocess.run([*CLI, "info", str(tmp_path / "missing.x3p")], capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_a_thread_still_running_keeps_pythons_own_exit():
    code = ("import sys, threading, time\n"
            "from scratchlight.cli import entry\n"
            "threading.Thread(target=lambda: (time.sleep(0.5), print('thread done', flush=True))).start()\n"
            "sys.argv = ['scratchlight', '--version']\n"
            "entry()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "thread done" in done.stdout, done


def test_a_closed_pipe_ends_quietly(tmp_path):
    out = tmp_path / "part.npz"
    subprocess.run([*CLI, "synth", "--size", "16", "--out", str(out)], check=True,
                   capture_output=True, timeout=120)
    proc = subprocess.Popen([*CLI, "info", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader goes away before the first line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) in (0, 1) and "Traceback" not in err, err
