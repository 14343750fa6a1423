"""scratchlight reproduce: the paper's experiments end to end (quick mode) and the measures
the report's verdicts are computed from."""
import contextlib
import io
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
    """The command docs/metrics.md shows, ``scratchlight reproduce --out DIR --quick``, run
    once in this process: its log lines and its ``results.json`` are what the tests read."""
    out = tmp_path_factory.mktemp("reproduce")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["reproduce", "--out", str(out), "--quick", "--seed", "0"]) == 0
    lines = [line for line in printed.getvalue().splitlines() if not line.startswith("figure ")]
    res = json.loads((out / "results.json").read_text())
    return out, res, lines


def _runs_table(summary: str) -> list[dict]:
    """Rows of the '## Runs' table of summary.md as dicts keyed by header."""
    block = summary.split("## Runs", 1)[1].split("\n## ", 1)[0]
    rows = [r.strip().strip("|").split("|") for r in block.strip().splitlines()
            if r.startswith("|")]
    header = [h.strip() for h in rows[0]]
    return [dict(zip(header, (c.strip() for c in r))) for r in rows[2:]]


@pytest.mark.slow
def test_quick_mode_writes_report_and_summary(quick_report):
    out, res, lines = quick_report
    for name in ("report.html", "summary.md", "results.json", "studio.exr"):
        assert (out / name).is_file(), name
    n_runs = len(rp.EXPERIMENTS)
    assert res["seeds"] == [0, 1]  # quick mode: two seeds
    # one line per experiment and seed
    assert sum(1 for line in lines if line.startswith("[")) == n_runs * len(res["seeds"])
    assert len(res["claims"]) == len(rp.CLAIMS)
    summary = (out / "summary.md").read_text()
    for _, fig, claim, _ in rp.CLAIMS:
        assert claim in summary


@pytest.mark.slow
def test_every_referenced_image_exists(quick_report):
    out, _, _ = quick_report
    html = (out / "report.html").read_text()
    srcs = re.findall(r'<img src="([^"]+)"', html)
    md = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (out / "summary.md").read_text())
    assert len(srcs) > 20 and len(md) == 5  # figures 3, 4, 6, 7, 8 of the one surface
    for rel in srcs + md:
        assert not Path(rel).is_absolute() and ".." not in rel, rel
        assert (out / rel).is_file(), rel


@pytest.mark.slow
def test_summary_numbers_match_run_json(quick_report):
    out, res, _ = quick_report
    rows = _runs_table((out / "summary.md").read_text())
    assert len(rows) == len(rp.EXPERIMENTS) * len(res["seeds"])
    assert {int(r["seed"]) for r in rows} == set(res["seeds"])
    for row in rows:
        run = json.loads((out / row["folder"] / "run.json").read_text())
        assert run["config"]["seed"] == int(row["seed"])
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


@pytest.mark.slow
def test_verdicts_are_computed(quick_report):
    _, res, _ = quick_report
    allowed = {"agrees", "differs", "partly", "not testable", "inconclusive"}
    for claim in res["claims"]:
        assert claim["findings"], claim["id"]
        for f in claim["findings"]:
            assert f["verdict"] in allowed and f["evidence"]
            if f["verdict"] != "not testable":
                # every verdict carries a mean and a confidence interval over the seeds
                assert f["parts"], claim["id"]
                for p in f["parts"]:
                    assert p["n"] == 2 and np.isfinite([p["mean"], p["lo"], p["hi"]]).all()
                    assert p["lo"] <= p["mean"] <= p["hi"]
                    assert "[" in f["evidence"] and "seeds" in f["evidence"]
                assert f["verdict"] == rp.combine([p["verdict"] for p in f["parts"]])
    # the scratch map of the quick synthetic surface covers everything: nothing to test
    fig6 = next(c for c in res["claims"] if c["id"] == "mask-focuses")
    scratch = [f for f in fig6["findings"] if f["values"]["mask"] == "scratch map"]
    assert scratch and (scratch[0]["verdict"] == "not testable") == (
        res["cases"][0]["scratch_coverage"] >= 0.99)


@pytest.mark.slow
def test_second_run_reuses_the_folders(quick_report):
    out, res, _ = quick_report
    lines = []
    again = rp.reproduce(out, quick=True, seed=0, log=lines.append)
    assert sum("reused" in line for line in lines) == len(rp.EXPERIMENTS) * len(res["seeds"])
    a = again["records"]["face-mill"]["init_specular"]["objective_after"]["loss"]
    assert a == res["records"]["face-mill"]["init_specular"]["objective_after"]["loss"]
    # d' is read back from each run folder's cache, the same numbers
    assert again["dprime"] == res["dprime"]


@pytest.mark.slow
def test_a_run_from_a_changed_light_file_is_not_reused(quick_report):
    """The config names the studio map by its path: a folder whose initial light is not what
    the file gives now (a run from an earlier studio map) runs again; the rest is reused."""
    from scratchlight.io import read_envmap, write_exr

    out, res, _ = quick_report
    for key in ("rgb", "init_file"):
        path = out / "face-mill" / key / "envmap_initial.exr"
        write_exr(path, read_envmap(path) * 0.5 + 0.1)
    lines = []
    again = rp.reproduce(out, quick=True, seed=0, log=lines.append)
    runs = [m.groups() for m in map(re.compile(r"\] (.+?) / (\w+) \(.*?\): (\S+)").search, lines)
            if m]
    assert len(runs) == len(rp.EXPERIMENTS) * len(res["seeds"])
    rerun = [(who, key) for who, key, how in runs if how != "reused,"]
    assert rerun == [("face-mill", "rgb"), ("face-mill", "init_file")], runs
    for key in ("rgb", "init_file"):  # the same seeds: the same run again (up to rounding)
        assert (again["records"]["face-mill"][key]["objective_after"]["loss"]
                == pytest.approx(res["records"]["face-mill"][key]["objective_after"]["loss"],
                                 rel=1e-6))


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
    assert rp.default_data_dir() == Path(__file__).resolve().parents[2].parent / "shared" / "data"


def test_bad_input(tmp_path, capsys):
    with pytest.raises(InputError):
        rp.reproduce(tmp_path / "x", quick=True, seed=-1)
    with pytest.raises(InputError):
        rp.reproduce(tmp_path / "x", quick=True, engine="nope")
    with pytest.raises(InputError):
        rp.reproduce(tmp_path / "x", quick=True, seeds=0)
    f = tmp_path / "file"
    f.write_text("")
    assert main(["reproduce", "--out", str(f), "--quick"]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert main(["reproduce", "--out", str(tmp_path / "y"), "--quick",
                 "--data", str(tmp_path / "absent")]) == 2


@pytest.mark.slow
def test_dprime_of_every_figure_with_intervals(quick_report):
    out, res, _ = quick_report
    entries = res["dprime"]["face-mill"]
    assert [(e["figure"], e["label"]) for e in entries] == [(f, lab) for f, lab, _, _ in
                                                            rp.CONDITIONS]
    assert {e["figure"] for e in entries} == {"3", "4", "6", "7"}
    for e in entries:
        for o in ("npw", "cho"):
            c = e[o]
            assert c["n"] == 2 and len(c["values"]) == 2, (e, o)
            assert np.isfinite([c["mean"], c["lo"], c["hi"]]).all() and c["lo"] <= c["hi"]
            assert c["mean"] >= 0
    # every seed's run folder caches its d' (and the seed-1 runs live in their own folder)
    seed1 = res["seeds"][1]
    rec = json.loads((out / "results.json").read_text())["seed_records"][str(seed1)]
    assert rec["face-mill"]["base"]["folder"] == f"face-mill/seed-{seed1}/base"
    assert (out / f"face-mill/seed-{seed1}/base/dprime.json").is_file()
    assert (out / "surfaces" / f"face-mill-seed{seed1}-twin.npz").is_file()
    summary = (out / "summary.md").read_text()
    assert "## Detectability d'" in summary and "| d' NPW | d' CHO |" in summary
    base = next(e for e in entries if e["experiment"] == "base" and e["render"] == "after")
    assert f"{base['npw']['mean']:.3g} [" in summary
    html = (out / "report.html").read_text()
    assert res["dprime_charts"]["face-mill"] == "face-mill/dprime.png"
    assert (out / "face-mill" / "dprime.png").is_file() and "face-mill/dprime.png" in html
    assert "(face-mill/dprime.png)" in summary
    assert html.count("d&#x27; NPW, all seeds") + html.count("d' NPW, all seeds") >= 4
    saved = json.loads((out / "results.json").read_text())
    assert saved["seeds"] == res["seeds"] and saved["dprime"]["face-mill"][0]["npw"]["n"] == 2


@pytest.mark.slow
def test_twin_is_the_surface_without_its_defects(quick_report):
    from scratchlight.io import read_heightmap

    out, _, _ = quick_report
    surf = read_heightmap(str(out / "surfaces" / "face-mill.npz"))
    twin = read_heightmap(str(out / "surfaces" / "face-mill-twin.npz"))
    diff = surf.heights - twin.heights
    assert np.array_equal(diff[~surf.truth], np.zeros(int((~surf.truth).sum())))
    assert (diff <= 0).all() and diff[surf.truth].min() < 0  # defects only remove material


def test_interval_is_students_t():
    from scipy import stats

    v = [1.0, 2.0, 4.0, 7.0]
    c = rp.interval(v)
    half = stats.t.ppf(0.975, 3) * np.std(v, ddof=1) / 2
    assert c["mean"] == pytest.approx(3.5) and c["n"] == 4
    assert (c["lo"], c["hi"]) == pytest.approx((3.5 - half, 3.5 + half))
    one = rp.interval([2.0, None, float("nan")])
    assert one["n"] == 1 and np.isnan(one["lo"])  # one value: no interval


@pytest.mark.parametrize("values, kind, threshold, margin, verdict", [
    ([1.0, 1.2, 0.9, 1.1, 1.05], "above", 0.0, 0.0, "agrees"),      # CI well above 0
    ([-1.0, -1.2, -0.9, -1.1, -1.05], "above", 0.0, 0.0, "differs"),  # well below
    ([1.0, -1.0, 0.5, -0.4, 0.1], "above", 0.0, 0.0, "inconclusive"),  # straddles 0
    ([0.3, 0.35, 0.32], "below", 0.5, 0.0, "agrees"),
    ([0.6, 0.7, 0.65], "below", 0.5, 0.0, "differs"),
    ([-0.05, -0.02, -0.04], "not_below", 0.0, 0.1, "agrees"),  # worse, but within the margin
    ([-1.0, -1.1, -0.9], "not_below", 0.0, 0.1, "differs"),
    ([0.5, -0.8, 0.2], "not_below", 0.0, 0.1, "inconclusive"),
    ([0.01, -0.02, 0.0, 0.01], "equal", 0.0, 0.1, "agrees"),
    ([1.0, 1.1, 0.9], "equal", 0.0, 0.1, "differs"),
    ([0.05, 0.3, -0.2], "equal", 0.0, 0.1, "inconclusive"),
    ([1.0], "above", 0.0, 0.0, "inconclusive"),  # a single seed decides nothing
])
def test_verdict_follows_the_interval(values, kind, threshold, margin, verdict):
    part = rp.judge("q", values, kind, threshold, margin)
    assert part["verdict"] == verdict, part


def test_combined_verdict():
    assert rp.combine(["agrees", "agrees"]) == "agrees"
    assert rp.combine(["differs", "differs"]) == "differs"
    assert rp.combine(["inconclusive", "inconclusive"]) == "inconclusive"
    assert rp.combine(["agrees", "differs"]) == "partly"
    assert rp.combine(["agrees", "inconclusive"]) == "partly"
    assert rp.combine([]) == "not testable"


def _seq(dprime_a, dprime_b):
    """Per-seed records of two renders whose NPW and CHO d' are the given values."""
    return [{"init_file": {"dprime": {"after": {"npw": a, "cho": a}}},
             "rgb": {"dprime": {"before": {"npw": b, "cho": b}}}}
            for a, b in zip(dprime_a, dprime_b)]


@pytest.mark.parametrize("a, b, verdict", [
    ([3.0, 3.4, 2.9, 3.2, 3.1], [1.0, 1.3, 0.8, 1.1, 1.0], "agrees"),
    ([1.0, 1.3, 0.8, 1.1, 1.0], [3.0, 3.4, 2.9, 3.2, 3.1], "differs"),
    ([2.0, 3.0, 1.0, 2.6, 1.5], [2.5, 1.8, 2.2, 2.0, 2.1], "inconclusive"),
])
def test_claim_verdict_from_constructed_dprime(a, b, verdict):
    from scratchlight.study.claims import _claim_better_than_common, visibility_parts

    case = {"kind": "synthetic", "name": "s"}
    parts = visibility_parts(case, _seq(a, b), ("init_file", "after"), ("rgb", "before"), "above")
    assert [p["verdict"] for p in parts] == [verdict, verdict]
    assert parts[0]["mean"] == pytest.approx(np.mean(a) - np.mean(b))
    seq = [dict(r, **{k: dict(r[k], metrics_after={"auc": 0.9, "cnr": 1.0},
                             metrics_before={"auc": 0.9, "cnr": 1.0}) for k in r})
           for r in _seq(a, b)]
    (finding,) = _claim_better_than_common(case, seq)
    assert finding["verdict"] == verdict and "5 seeds" in finding["evidence"]


@pytest.mark.parametrize("verdicts, expected", [
    (["agrees", "agrees", "not testable"], "agree"), (["differs"], "differ"),
    (["inconclusive", "not testable"], "inconclusive"), (["agrees", "differs"], "partly"),
    (["agrees", "inconclusive"], "partly"), (["partly", "partly"], "partly"),
    (["not testable"], "not testable"), ([], "not testable")])
def test_claim_class_over_surfaces(verdicts, expected):
    """A claim's class over its surfaces follows the rule that combines a claim's parts."""
    from scratchlight.study.claims import claim_class, tally

    claim = {"findings": [{"verdict": v} for v in verdicts]}
    assert claim_class(claim) == expected
    assert tally({"claims": [claim, claim]}) == f"of 2 claims of the paper, 2 {expected}"
