"""Evaluate rows with a twin carry the display observers' d' into the batch summary, and the
default plot shows d' against the swept option when rows have it."""
from scratchlight.batch.rows import Row
from scratchlight.batch.summary import _metrics, default_plot, metric_names


def test_evaluate_metrics_include_dprime_and_its_standard_error():
    doc = {"metrics": {"auc": {"mean": 0.9, "stderr": 0.01}},
           "detectability": {"npw": {"overall": 12.5, "stderr": 1.5},
                             "cho": {"overall": 8.0, "stderr": None}},
           "seconds": 3.0}
    m = _metrics("evaluate", doc)
    assert (m["dprime"], m["dprime_se"], m["dprime_cho"], m["dprime_cho_se"]) == (12.5, 1.5, 8.0, None)
    assert {"dprime", "dprime_se", "dprime_cho", "dprime_cho_se"} <= metric_names()
    # without a twin there is no d' (and no column for it)
    assert "dprime" not in _metrics("evaluate", {"metrics": {}, "seconds": 1.0})


def test_default_plot_is_dprime_against_the_swept_option():
    records = [{"options": {"heightmap": "a.npz", "elevation": e}, "command": "evaluate",
                "metrics": {"auc": 0.9, "dprime": d}} for e, d in ((30, 4.0), (60, 9.0))]
    assert default_plot(records, ["elevation"]) == ("dprime", "elevation")


def test_optimize_rows_with_a_twin_carry_dprime_too():
    doc = {"objective_before": {"loss": 10.0, "l_grad": 9.0, "mean_gradient": 0.1},
           "objective_after": {"loss": 5.0, "l_grad": 4.0, "mean_gradient": 0.3},
           "detectability": {"npw": {"overall": 7.0, "stderr": 0.5}, "cho": {"overall": None}}}
    m = _metrics("optimize", doc)
    assert (m["dprime"], m["dprime_se"]) == (7.0, 0.5) and "dprime_cho" not in m
    assert "dprime" not in _metrics("optimize", {k: v for k, v in doc.items()
                                                 if k != "detectability"})
    records = [{"options": {"heightmap": "a.npz", "lam": lam}, "command": "optimize",
                "metrics": {"mean_gradient_after": 0.3, "dprime": d}}
               for lam, d in ((10, 4.0), (30, 9.0))]
    assert default_plot(records, ["lam"]) == ("dprime", "lam")


def test_an_optimize_only_plan_with_a_twin_plots_dprime_against_the_swept_option(tmp_path):
    """A batch of optimize rows only, on a synthetic part with its twin: every row judges its
    light by d' and the default plot is d' against the swept lam."""
    import csv
    import json

    from scratchlight.cli import main

    main(["synth", "--kind", "face-mill", "--size", "48", "--scratches", "2", "--seed", "1",
          "--out", str(tmp_path / "part.npz"), "--twin", str(tmp_path / "twin.npz")])
    (tmp_path / "plan.toml").write_text(
        '[defaults]\nheightmap = "part.npz"\ntwin = "twin.npz"\nresolution = 48\n'
        'iterations = 3\nspp = 4\nfinal_spp = 8\nenvmap_size = "8x16"\n'
        '[sweep]\nlam = [10, 30]\n')
    assert main(["batch", str(tmp_path / "plan.toml"), "--out", str(tmp_path / "out"),
                 "--workers", "1", "--quiet"]) == 0
    rows = list(csv.DictReader(open(tmp_path / "out" / "summary.csv")))
    assert len(rows) == 2 and all(float(r["dprime"]) > 0 for r in rows), rows
    batch = json.loads((tmp_path / "out" / "batch.json").read_text())
    assert batch["plot"]["metric"] == "dprime" and batch["plot"]["x"] == "lam", batch["plot"]


def test_pod_rows_run_in_a_batch_and_plot_a90_95(tmp_path):
    """A plan of pod rows (a synthetic kind, no height map) sweeping the light's radiance:
    each row's folder is pod's own, its verdict in the summary, a90/95 the default plot."""
    import csv
    import json

    from scratchlight.cli import main

    (tmp_path / "plan.toml").write_text(
        '[defaults]\ncommand = "pod"\nsize = 64\nresolution = 48\ndepths = "1,4"\n'
        'orientations = "0,90"\nseeds = 1\ngrid = 2\nspp = 4\nwindow = 6\n'
        '[sweep]\nlight = ["uniform:0.5", "studio"]\n')
    assert main(["batch", str(tmp_path / "plan.toml"), "--out", str(tmp_path / "out"),
                 "--workers", "1", "--quiet"]) == 0
    rows = list(csv.DictReader(open(tmp_path / "out" / "summary.csv")))
    assert len(rows) == 2 and all(r["status"] == "ok" and r["pod_defects"] == "4" for r in rows), rows
    for r in rows:
        assert (tmp_path / "out" / r["name"] / "pod.png").is_file()
        saved = json.loads((tmp_path / "out" / r["name"] / "run.json").read_text())
        assert saved["command"] == "pod"
    # a rerun finds every row done (pod's run.json holds the row's config)
    assert main(["batch", str(tmp_path / "plan.toml"), "--out", str(tmp_path / "out"),
                 "--workers", "1", "--quiet"]) == 0
    batch = json.loads((tmp_path / "out" / "batch.json").read_text())
    assert batch["counts"]["reused"] == 2 and batch["counts"]["ran"] == 0, batch["counts"]
    assert batch["plot"]["x"] == "light"
