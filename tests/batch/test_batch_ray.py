"""A batch on a local Ray cluster of two CPUs, started by this module (issue 14): six rows
with a sweep and a corrupt file give five results and one recorded failure, the page and
summary; a rerun does no work; a worker killed mid-row is retried and leaves no partial
folder; rows that differ only in the objective share one transport matrix."""
import csv
import json
import os
import re
from pathlib import Path

import pytest

from batch_helpers import TINY, WorkerKiller, check_folder, make_parts
from scratchlight.batch import BatchSettings, load_plan, run_batch
from scratchlight.report.results import RESULT_FILES

ray = pytest.importorskip("ray")
# a Ray cluster, and the tests use each other's results in order; under pytest-xdist one
# Ray cluster at a time (group "ray", as test_batch_ray_cluster.py)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]
SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture(scope="module")
def cluster():
    import logging

    env = {"PYTHONPATH": SRC}
    if os.environ.get("DRJIT_LIBLLVM_PATH"):
        env["DRJIT_LIBLLVM_PATH"] = os.environ["DRJIT_LIBLLVM_PATH"]
    # address="local": a cluster of its own, never one found running on the machine (another
    # test process's, a user's `ray start`), which ray.init() would join
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.WARNING,
             log_to_driver=False, runtime_env={"env_vars": env})
    yield
    ray.shutdown()


def test_the_cluster_is_on_the_loopback_address(cluster):
    # conftest.py keeps Ray on 127.0.0.1 and its workers at normal priority
    assert {n["NodeManagerAddress"] for n in ray.nodes()} == {"127.0.0.1"}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    make_parts(root)
    (root / "plan.toml").write_text(f"""
[defaults]
{TINY}
[[rows]]                                  # 2 parts x 2 lambdas, transport engine: 4 rows
heightmap = "parts/fm-*.npz"
engine = "transport"
init = "specular"
sweep = {{ lam = [10, 30] }}
[[rows]]                                  # the light of a file, judged by metrics
heightmap = "parts/fm-1.npz"
command = "evaluate"
envmap = "light.exr"
seeds = 2
spp = 4
[[rows]]                                  # a corrupt height map: one recorded failure
heightmap = "parts/corrupt.npz"
""")
    return root


def _settings(root, **kw):
    return BatchSettings(ray="local", progress=False, cache_dir=str(root / "cache"), **kw)


def test_six_rows_on_two_cpus(cluster, study):
    out = study / "out"
    plan = load_plan(study / "plan.toml")
    res = run_batch(plan, out, _settings(study))
    by_name = {r["name"]: r for r in res.records}
    assert len(res.records) == 6 and res.ran == 5 and res.failed == 1
    bad = [r for r in res.records if r["status"] == "failed"]
    assert len(bad) == 1 and bad[0]["options"]["heightmap"].endswith("corrupt.npz")
    assert "corrupt.npz" in bad[0]["error"] and "\n" not in bad[0]["error"]
    done = [r["name"] for r in res.records if r["status"] == "ok"]
    check_folder(out, done)
    # optimize rows hold exactly the optimize command's folder (plus row.json), and the
    # config the command line builds from the same flags
    opt = by_name["fm-1_optimize_lam=10"]
    assert set(os.listdir(out / opt["name"])) == set(RESULT_FILES) | {"row.json"}
    from scratchlight.cli import build_parser
    from scratchlight.cli.cmd_optimize import config_from_args

    args = build_parser().parse_args(
        ["optimize", str(study / "parts" / "fm-1.npz"), "--out", "x", "--resolution", "24",
         "--iterations", "2", "--spp", "2", "--final-spp", "4", "--engine", "transport",
         "--init", "specular", "--lam", "10"])
    saved = json.load(open(out / opt["name"] / "run.json"))
    assert saved["config"] == config_from_args(args).to_dict()
    # a row reserves one CPU and renders on one thread (SCRATCHLIGHT_THREADS unless set)
    assert saved["cpu_threads"] == int(os.environ.get("SCRATCHLIGHT_THREADS") or 1)
    ev = by_name["fm-1_evaluate"]
    assert set(os.listdir(out / ev["name"])) == {"metrics.json", "image.png", "row.json"}
    assert 0 <= ev["metrics"]["auc"] <= 1 and ev["images"]["light"].startswith("lights/")
    # the four transport rows share two matrices per part (the engine's two halves), not
    # one pair per lambda
    assert len(list((study / "cache" / "transport").glob("T-*.npz"))) == 4
    # summary.csv: every option and metric per row
    rows = list(csv.DictReader(open(out / "summary.csv")))
    assert [r["name"] for r in rows] == [r["name"] for r in res.records]
    assert {"heightmap", "lam", "engine", "seeds", "loss_after", "auc", "status", "error"} <= set(rows[0])
    assert float(next(r for r in rows if r["name"] == opt["name"])["lam"]) == 10
    # the page: one row per run, relative links that exist, nothing from the network
    page = (out / "index.html").read_text()
    body = page.split("<tbody>")[1].split("</tbody>")[0]
    assert body.count("<tr") == 6 and 'class="failed"' in body
    links = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert links and not [u for u in links if "://" in u or u.startswith("/")]
    assert all((out / u).is_file() for u in links)
    assert "<script>" in page and "<script src" not in page and "<link" not in page
    assert (out / "plot.png").stat().st_size > 0
    batch = json.load(open(out / "batch.json"))
    assert batch["counts"] == {"rows": 6, "ok": 5, "ran": 5, "reused": 0, "failed": 1,
                               "retried": 0}
    # a visibility measure of the rows that have the swept option (the evaluate row has no lam)
    assert batch["plot"] == {"metric": "mean_gradient_after", "x": "lam"}


def test_rerun_does_no_work(cluster, study):
    out = study / "out"
    before = {p: p.stat().st_mtime_ns for p in out.glob("*/run.json")}
    assert before
    res = run_batch(load_plan(study / "plan.toml"), out, _settings(study))
    assert res.ran == 0 and res.reused == 5 and res.failed == 1
    assert {p: p.stat().st_mtime_ns for p in out.glob("*/run.json")} == before
    # a changed option reruns exactly its row
    plan = load_plan(study / "plan.toml")
    for row in plan.rows:
        if row.get("command") == "evaluate":
            row["seeds"] = 3
    res = run_batch(plan, out, _settings(study))
    assert res.ran == 1 and res.reused == 4


def test_a_killed_worker_is_retried(cluster, tmp_path):
    make_parts(tmp_path)
    (tmp_path / "plan.toml").write_text(f"""
[defaults]
{TINY.replace("24", "32")}
[sweep]
heightmap = "parts/fm-*.npz"
""")
    out = tmp_path / "out"
    killer = WorkerKiller(str(out))
    killer.start()
    res = run_batch(load_plan(tmp_path / "plan.toml"), out, _settings(tmp_path, retries=2))
    killer.stop.set()
    assert killer.killed, "no worker was killed"
    assert res.ran == 2 and res.failed == 0
    check_folder(out, ["fm-1", "fm-2"])
    assert json.load(open(out / killer.row / "row.json"))["pid"] != killer.killed
