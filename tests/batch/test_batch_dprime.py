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
