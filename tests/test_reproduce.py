"""scratchlight reproduce: the paper's experiments end to end (quick mode) and the measures
the report's verdicts are computed from."""
import json
import re
from pathlib import Path

import numpy as np
import pytest

from scratchlight import study as rp
from scratchlight.cli import main
from scratchlight.errors import InputError


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce")
    lines = []
    res = rp.reproduce(out, quick=True, seed=0, log=lines.append)
    return out, res, lines


def _runs_table(summary: str) -> list[dict]:
    """Rows of the '## Runs' table of summary.md as dicts keyed by header."""
    block = summary.split("## Runs", 1)[1].split("\n## ", 1)[0]
    rows = [r.strip().strip("|").split("|") for r in block.strip().splitlines()
            if r.startswith("|")]
    header = [h.strip() for h in rows[0]]
    return [dict(zip(header, (c.strip() for c in r))) for r in rows[2:]]


def test_quick_mode_writes_report_and_summary(quick_report):
    out, res, lines = quick_report
    for name in ("report.html", "summary.md", "results.json", "studio.exr"):
        assert (out / name).is_file(), name
    n_runs = len(rp.EXPERIMENTS)
    assert sum(1 for line in lines if line.startswith("[")) == n_runs  # one line per experiment
    assert len(res["claims"]) == len(rp.CLAIMS)
    summary = (out / "summary.md").read_text()
    for _, fig, claim, _ in rp.CLAIMS:
        assert claim in summary


def test_every_referenced_image_exists(quick_report):
    out, _, _ = quick_report
    html = (out / "report.html").read_text()
    srcs = re.findall(r'<img src="([^"]+)"', html)
    md = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (out / "summary.md").read_text())
    assert len(srcs) > 20 and len(md) == 5  # figures 3, 4, 6, 7, 8 of the one surface
    for rel in srcs + md:
        assert not Path(rel).is_absolute() and ".." not in rel, rel
        assert (out / rel).is_file(), rel


def test_summary_numbers_match_run_json(quick_report):
    out, res, _ = quick_report
    rows = _runs_table((out / "summary.md").read_text())
    assert len(rows) == len(rp.EXPERIMENTS)
    for row in rows:
        run = json.loads((out / row["folder"] / "run.json").read_text())
        for col, key in (("objective before", ("objective_before", "loss")),
                         ("objective after", ("objective_after", "loss")),
                         ("L_grad before", ("objective_before", "l_grad")),
                         ("L_grad after", ("objective_after", "l_grad"))):
            assert float(row[col]) == pytest.approx(run[key[0]][key[1]], rel=1e-5), (row, col)
    # results.json carries the same numbers, and the metric tables were computed per render
    saved = json.loads((out / "results.json").read_text())
    rec = saved["records"]["face-mill"]["base"]
    run = json.loads((out / "face-mill" / "base" / "run.json").read_text())
    assert rec["objective_after"]["loss"] == pytest.approx(run["objective_after"]["loss"])
    assert 0.0 <= rec["metrics_after"]["auc"] <= 1.0


def test_verdicts_are_computed(quick_report):
    _, res, _ = quick_report
    allowed = {"agrees", "differs", "partly", "not testable"}
    for claim in res["claims"]:
        assert claim["findings"], claim["id"]
        for f in claim["findings"]:
            assert f["verdict"] in allowed and f["evidence"]
    # the scratch map of the quick synthetic surface covers everything: nothing to test
    fig6 = next(c for c in res["claims"] if c["id"] == "mask-focuses")
    scratch = [f for f in fig6["findings"] if f["values"]["mask"] == "scratch map"]
    assert scratch and (scratch[0]["verdict"] == "not testable") == (
        res["cases"][0]["scratch_coverage"] >= 0.99)


def test_second_run_reuses_the_folders(quick_report):
    out, res, _ = quick_report
    lines = []
    again = rp.reproduce(out, quick=True, seed=0, log=lines.append)
    assert sum("reused" in line for line in lines) == len(rp.EXPERIMENTS)
    a = again["records"]["face-mill"]["init_specular"]["objective_after"]["loss"]
    assert a == res["records"]["face-mill"]["init_specular"]["objective_after"]["loss"]


def test_colourfulness_and_map_stats():
    gray = np.full((4, 8, 3), 0.4)
    assert rp.colourfulness(gray) == pytest.approx(0.0, abs=1e-12)
    assert rp.colourfulness(np.full((4, 8, 1), 0.4)) == 0.0
    red = np.zeros((4, 8, 3))
    red[..., 0] = 0.9
    assert rp.colourfulness(red) == pytest.approx(np.std([1, 0, 0]) / np.mean([1, 0, 0]))
    E = np.zeros((4, 8, 1))
    E[0] = 1.0
    s = rp.map_stats(E)
    assert s["sparsity"] == pytest.approx(0.75) and s["at_one"] == pytest.approx(0.25)
    assert s["mean"] == pytest.approx(0.25)
    studio = rp.studio_envmap((16, 32))
    assert studio.shape == (16, 32, 3) and 0 <= studio.min() and studio.max() <= 1
    assert rp.colourfulness(studio) > 0.05  # a coloured map, so RGB drift can be measured


def test_convergence_stats_ranks_speed_and_jitter():
    k = np.arange(100)
    fast = 1 + 9 * np.exp(-k / 3)
    slow = 1 + 9 * np.exp(-k / 12)
    noisy = fast + 0.3 * np.random.default_rng(0).standard_normal(100)
    st = rp.convergence_stats({"fast": fast, "slow": slow, "noisy": noisy})
    assert st["fast"]["iterations_to_converge"] < st["slow"]["iterations_to_converge"]
    assert st["fast"]["jitter"] < st["noisy"]["jitter"]
    assert st["slow"]["final"] == pytest.approx(1.0, abs=0.1)
    never = rp.convergence_stats({"a": [1.0, 1.0], "b": [5.0, 5.0]})
    assert never["b"]["iterations_to_converge"] is None


def test_pairwise_rms():
    d = rp.pairwise_rms({"a": np.zeros((2, 2, 1)), "b": np.ones((2, 2, 1)),
                         "c": np.full((2, 2, 3), 0.5)})
    assert d == {"a | b": 1.0, "a | c": 0.5, "b | c": 0.5}


def test_missing_real_map_is_a_note(tmp_path):
    notes = []
    settings = rp.Settings(mode="t", synthetic=(), real=(("nothing.sur", None),), size=32,
                           scratches=1, resolution=16, iterations=1, spp=1, final_spp=1)
    assert rp.surface_cases(tmp_path, settings, 0, tmp_path / "absent", notes) == []
    assert notes and "nothing.sur" in notes[0] and "skipped" in notes[0]


def test_default_data_dir_is_beside_the_repo():
    assert rp.default_data_dir() == Path(__file__).resolve().parents[1].parent / "shared" / "data"


def test_bad_input(tmp_path, capsys):
    with pytest.raises(InputError):
        rp.reproduce(tmp_path / "x", quick=True, seed=-1)
    with pytest.raises(InputError):
        rp.reproduce(tmp_path / "x", quick=True, engine="nope")
    f = tmp_path / "file"
    f.write_text("")
    assert main(["reproduce", "--out", str(f), "--quick"]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert main(["reproduce", "--out", str(tmp_path / "y"), "--quick",
                 "--data", str(tmp_path / "absent")]) == 2
