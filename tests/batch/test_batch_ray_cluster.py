"""A batch plan against a real cluster started with ``ray start --head`` on 127.0.0.1, as
docs/batch.md shows: the driver connects with ``--ray 127.0.0.1:PORT`` (token
authentication, which Ray's clusters use from 2.59 on, is taken from the head's token file),
every row runs, nothing listens beyond the loopback address, and a wrong token is one line
with exit code 2."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from batch_helpers import TINY, make_parts

ray = pytest.importorskip("ray")
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]  # one Ray cluster at a time (xdist)
SRC = str(Path(__file__).resolve().parents[2] / "src")
RAY = shutil.which("ray", path=os.path.dirname(sys.executable)) or shutil.which("ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(PYTHONPATH=SRC, PYTHONWARNINGS="ignore", **extra)
    return env


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    """A head node of 2 CPUs on 127.0.0.1 (its own temp folder), stopped afterwards."""
    if RAY is None:
        pytest.skip("the ray command is not installed")
    port = _free_port()
    temp = tmp_path_factory.mktemp("ray")
    proc = subprocess.Popen(
        [RAY, "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port",
         str(port), "--num-cpus", "2", "--include-dashboard", "false",
         "--disable-usage-stats", "--temp-dir", str(temp)],
        # workers at normal priority: at Ray's nice 15 the other test worker starves them
        env=_env(RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0", RAY_worker_niceness="0"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("ray start --head did not open its port within 90 s")
    time.sleep(3)  # the raylet registers after the GCS opens its port
    yield port, proc, temp
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:  # `ray start --block` may outlive SIGTERM
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    # Ray's daemons leave the process group: stop those of this head by its temp folder
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if str(temp) in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="ignore"):
                    os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass


def _ray_listeners_beyond_loopback() -> list[str]:
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
    bad = []
    for line in out.splitlines():
        parts = line.split()
        local = parts[3] if len(parts) > 3 else ""
        host = local.rsplit(":", 1)[0].strip("[]").removeprefix("::ffff:")
        if host == "::1" or host.startswith("127."):
            continue
        if any(name in line for name in ("raylet", "gcs_server", "ray::", "plasma")):
            bad.append(line)
    return bad


def test_plan_runs_on_a_cluster_started_with_ray_start(head, tmp_path):
    port, _, _ = head
    make_parts(tmp_path)
    (tmp_path / "plan.toml").write_text(f"""
[defaults]
{TINY}
[[rows]]
heightmap = "parts/fm-*.npz"
engine = "transport"
""")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "scratchlight.cli", "batch",
                           str(tmp_path / "plan.toml"), "--out", str(out), "--ray",
                           f"127.0.0.1:{port}", "--quiet"],
                          capture_output=True, text=True, env=_env(), timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "InvalidAuthToken" not in proc.stderr and "Traceback" not in proc.stderr
    rows = json.loads((out / "batch.json").read_text())["rows"]
    assert len(rows) == 2 and all(r["status"] == "ok" for r in rows), rows
    assert _ray_listeners_beyond_loopback() == []


def test_a_wrong_token_is_one_line(head, tmp_path):
    port, _, _ = head
    make_parts(tmp_path)
    (tmp_path / "plan.toml").write_text(f'[defaults]\n{TINY}\n[[rows]]\nheightmap = "parts/fm-1.npz"\n')
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "scratchlight.cli", "batch",
                           str(tmp_path / "plan.toml"), "--out", str(out), "--ray",
                           f"127.0.0.1:{port}"], capture_output=True, text=True,
                          # Ray retries a refused connection 20 times, 1 s apart, before
                          # it gives up; 3 tries show the same refusal in a fifth of the time
                          env=_env(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN="0" * 64,
                                   RAY_NUM_REDIS_GET_RETRIES="3"), timeout=600)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "RAY_AUTH_TOKEN" in lines[0], proc.stderr[-2000:]
