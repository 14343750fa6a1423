"""The plans of docs/batch.md load to the rows their first line states, and a plan's
[sweep] multiplies every [[rows]] entry as docs/batch.md says: a row's own value beats the
swept ones, and a swept option the row's command does not take is left out of that row
(issue 25, item 1). Nothing here renders."""
import os
import re
from pathlib import Path

from scratchlight.batch import load_plan
from scratchlight.batch.rows import make_rows

DOC = Path(__file__).resolve().parents[2] / "docs" / "batch.md"
_FILE = re.compile(r"<!-- file: (\S+\.toml) -->\n```toml\n(.*?)```", re.S)
_COUNT = re.compile(r"^# (\d+) rows? with parts/ holding ([^(\n]+)")


def test_docs_plans_make_the_rows_they_state(tmp_path):
    plans = _FILE.findall(DOC.read_text())
    assert {name for name, _ in plans} >= {"study.toml", "shared.toml"}
    for name, text in plans:
        m = _COUNT.match(text)
        assert m, f"{name}: the first line must say '# N rows with parts/ holding ...'"
        folder = tmp_path / name.replace(".", "_")
        (folder / "parts").mkdir(parents=True)
        for part in m.group(2).split(","):
            (folder / "parts" / part.strip()).write_bytes(b"x")
        (folder / "milled-face.sur").write_bytes(b"x")
        (folder / name).write_text(text)
        plan = load_plan(folder / name)
        assert len(plan.rows) == int(m.group(1)), (name, plan.rows)
        # and no row gets an option its command does not take from the plan's tables
        rows = make_rows([dict(r, command=r.get("command", "evaluate" if plan.mode ==
                                                "shared-light" else "optimize"))
                          for r in plan.rows], plan.base_dir, plan_defaults=plan.defaults)
        assert not [r.error for r in rows if r.error and "not an option" in r.error], name


def test_top_level_sweep_multiplies_every_row(tmp_path):
    """The plan of the README before docs/batch.md: [sweep] with a height-map glob and lam,
    and [[rows]] with their own height maps. It gave 4 milled-face rows and 2 evaluate rows
    failing with 'lam: not an option of evaluate'."""
    (tmp_path / "parts").mkdir()
    for part in ("fm-1.npz", "fm-2.npz"):
        (tmp_path / "parts" / part).write_bytes(b"x")
    (tmp_path / "milled-face.sur").write_bytes(b"x")
    (tmp_path / "studio.exr").write_bytes(b"x")
    (tmp_path / "plan.toml").write_text("""
[defaults]
resolution = 128
[sweep]
heightmap = ["parts/*.npz"]
lam = [10, 30]
[[rows]]
heightmap = "milled-face.sur"
sweep = { roughness = [0.02, 0.05] }
[[rows]]
heightmap = "parts/fm-1.npz"
command = "evaluate"
envmap = "studio.exr"
seeds = 2
[[rows]]
lam = 30
""")
    plan = load_plan(tmp_path / "plan.toml")
    by = {}
    for r in plan.rows:
        key = (os.path.basename(r["heightmap"]), r.get("command", "optimize"))
        by.setdefault(key, []).append(r)
    # milled face: its own map beats the swept maps; 2 lams x 2 roughnesses
    assert len(by[("milled-face.sur", "optimize")]) == 4
    # evaluate takes no lam: one row, without lam (it failed twice before)
    evaluate = by[("fm-1.npz", "evaluate")]
    assert len(evaluate) == 1 and "lam" not in evaluate[0]
    # the last row sets lam itself: the swept maps only, lam 30 each
    assert [r["lam"] for r in by[("fm-1.npz", "optimize")]] == [30]
    assert [r["lam"] for r in by[("fm-2.npz", "optimize")]] == [30]
    assert len(plan.rows) == 7
    rows = make_rows(plan.rows, plan.base_dir, plan_defaults=plan.defaults)
    assert not [r.error for r in rows if r.error and "not an option" in r.error]
