"""What the batch page and plot show by default (issue 25, item 7): a failed row's reason
beside its name, metric columns grouped under their command, and a visibility measure
(not loss_after, which rises with lam by construction) against the swept option; in a
shared-light plan the reference row is not the plot. Nothing here renders."""
import json
import re

import pytest

from scratchlight.batch import BatchSettings
from scratchlight.batch.plan import Plan
from scratchlight.batch.page import write_index
from scratchlight.batch.report import write_report
from scratchlight.batch.run import BatchResult
from scratchlight.batch.summary import default_plot


def _rec(name, command, metrics=None, error=None, **options):
    return {"name": name, "command": command, "status": "failed" if error else "ok",
            "error": error, "options": {"heightmap": f"/p/{name}.npz", **options},
            "metrics": metrics or {}, "images": {}, "attempts": 1, "retried": []}


def _optimize(name, lam, mg):
    # loss_after = l_grad + lam * l2 grows with lam; mean_gradient_after is the visibility
    return _rec(name, "optimize", {"loss_before": 9.0, "loss_after": 1.0 + lam,
                                   "l_grad_after": 1 / mg, "mean_gradient_after": mg}, lam=lam)


def _report(tmp_path, records, plan):
    result = BatchResult(records=records, ran=len(records), reused=0,
                         failed=sum(r["status"] != "ok" for r in records), seconds=1.0)
    write_report(str(tmp_path), plan, BatchSettings(progress=False), result, "test")
    return json.load(open(tmp_path / "batch.json")), (tmp_path / "index.html").read_text()


def test_default_plot_is_a_visibility_measure_against_the_swept_option():
    records = [_optimize("a", 10, 0.5), _optimize("b", 30, 0.4)]
    assert default_plot(records, ["lam"]) == ("mean_gradient_after", "lam")
    evaluate = [_rec("c", "evaluate", {"auc": 0.8, "auc_se": 0.01, "mean_gradient": 0.1})]
    assert default_plot(records + evaluate, ["heightmap"]) == ("auc", "heightmap")


@pytest.mark.slow  # draws plot.png (matplotlib: seconds on its first use)
def test_shared_light_plot_is_the_parts_not_the_reference(tmp_path):
    plan = Plan(path=str(tmp_path / "plan.toml"), base_dir=str(tmp_path), mode="shared-light",
                reference={"heightmap": "/p/nominal.npz"}, swept=["heightmap"])
    records = [_optimize("reference", 10, 0.5),
               *(_rec(f"feed-{k}", "evaluate", {"auc": 0.6 + 0.1 * k, "cnr": 1.0 + k})
                 for k in (1, 2, 3))]
    doc, _ = _report(tmp_path, records, plan)
    assert doc["plot"] == {"metric": "auc", "x": "heightmap"}


def test_page_shows_the_reason_beside_the_name_and_groups_metrics(tmp_path):
    records = [_optimize("a", 10, 0.5), _optimize("b", 30, 0.4),
               _rec("bad", "optimize", error="heightmap: not a height map"),
               _rec("c", "evaluate", {"auc": 0.8, "auc_se": 0.01})]
    records[1]["attempts"], records[1]["retried"] = 2, ["attempt 1: a worker process died"]
    write_index(str(tmp_path / "index.html"), records, "batch", [], {})
    page = (tmp_path / "index.html").read_text()
    head = re.search(r"<thead>(.*?)</thead>", page, re.S).group(1)
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", head, re.S)
    assert len(rows) == 2, "a header row naming the command of each metric group"
    groups = re.findall(r'<th colspan="(\d+)"[^>]*>([^<]*)</th>', rows[0])
    names = re.findall(r"<th[^>]*>([^<]*)</th>", rows[1])
    assert names.index("error") <= 2, names  # beside the name, not the last column
    group_of = []
    for span, label in groups:
        group_of += [label] * int(span)
    assert len(group_of) == len(names)
    assert {group_of[names.index(m)] for m in ("loss_after", "mean_gradient_after")} == {"optimize"}
    assert {group_of[names.index(m)] for m in ("auc", "auc_se")} == {"evaluate"}
    # the evaluate row's cells: no optimize metric, its auc under the evaluate group
    body = re.findall(r"<tr[^>]*>(.*?)</tr>", page.split("<tbody>")[1], re.S)
    cells = re.findall(r'data-v="([^"]*)"', body[3])
    assert cells[names.index("auc")] == "0.8" and cells[names.index("loss_after")] == ""
    assert "attempt 1: a worker process died" in page


def test_default_plot_metric_is_one_the_rows_with_the_option_have():
    """An evaluate row without the swept lam does not make auc the metric of a plot of lam
    (it would have no point)."""
    records = [_optimize("a", 10, 0.5), _optimize("b", 30, 0.4),
               _rec("c", "evaluate", {"auc": 0.8})]
    assert "lam" not in records[2]["options"]
    assert default_plot(records, ["lam"]) == ("mean_gradient_after", "lam")
