"""The comparison page ``DIR/index.html``: one table row per run, self-contained.

Thumbnails (before / after / light for optimize rows, the image for the others) link to the
full images by relative paths; metrics and options follow. The inline script sorts by any
column (click its header; numbers as numbers) and filters by option values (one menu per
option that varies) and by free text. No external file, no CDN: the folder can be zipped
and opened anywhere.
"""
from __future__ import annotations

import html
import math
import os

from ..io.atomic import atomic_path
from .summary import command_metric_columns, option_columns, retried_text

__all__ = ["write_index"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 3px 6px; vertical-align: top; text-align: left; }
th { background: #f2f2f2; cursor: pointer; position: sticky; top: 0; white-space: nowrap; }
th.sorted-asc::after { content: " \\25B2"; } th.sorted-desc::after { content: " \\25BC"; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.failed td { background: #fdecec; } td.err { color: #a11b1b; max-width: 30em; }
img { image-rendering: pixelated; width: 96px; display: block; }
.filters { margin: 0.8em 0; display: flex; flex-wrap: wrap; gap: 0.6em; align-items: center; }
.filters label { font-size: 0.85em; } .note { color: #555; font-size: 0.9em; }
th.group { text-align: center; background: #e4e9f2; } tr.groups th { top: auto; position: static; }
td.retried { background: #fff6dc; } .why { color: #7a5b00; font-size: 0.8em; }
"""

_SCRIPT = """
(function () {
  const table = document.getElementById('runs');
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  let sortCol = -1, asc = true;
  function key(cell) {
    const v = cell.getAttribute('data-v');
    const n = parseFloat(v);
    return (v !== '' && !isNaN(n) && isFinite(v)) ? [0, n] : [1, (v || '').toLowerCase()];
  }
  const header = table.tHead.rows[table.tHead.rows.length - 1];
  Array.from(header.cells).forEach(function (th, i) {
    if (th.classList.contains('nosort')) return;
    th.addEventListener('click', function () {
      asc = (sortCol === i) ? !asc : true; sortCol = i;
      Array.from(header.cells).forEach(c => c.classList.remove('sorted-asc', 'sorted-desc'));
      th.classList.add(asc ? 'sorted-asc' : 'sorted-desc');
      rows.slice().sort(function (a, b) {
        const ka = key(a.cells[i]), kb = key(b.cells[i]);
        if (ka[0] !== kb[0]) return ka[0] - kb[0];
        const d = ka[1] < kb[1] ? -1 : ka[1] > kb[1] ? 1 : 0;
        return asc ? d : -d;
      }).forEach(r => body.appendChild(r));
    });
  });
  const selects = Array.from(document.querySelectorAll('select[data-col]'));
  const text = document.getElementById('text-filter');
  function apply() {
    const q = text.value.toLowerCase();
    let shown = 0;
    rows.forEach(function (r) {
      let ok = selects.every(s => s.value === '' || r.cells[+s.dataset.col].getAttribute('data-v') === s.value);
      if (ok && q) ok = r.textContent.toLowerCase().includes(q);
      r.style.display = ok ? '' : 'none';
      shown += ok ? 1 : 0;
    });
    document.getElementById('shown').textContent = shown + ' of ' + rows.length + ' rows shown';
  }
  selects.forEach(s => s.addEventListener('change', apply));
  text.addEventListener('input', apply);
  apply();
})();
"""


def escape(text) -> str:
    return html.escape(str(text), quote=True)


def _value(v) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    if isinstance(v, str) and os.path.isabs(v):
        return os.path.basename(v)
    if isinstance(v, (list, tuple)):
        return "x".join(map(str, v))
    return str(v)


def _shown(v) -> str:
    if isinstance(v, float) and math.isfinite(v):
        return f"{v:.4g}"
    return _value(v)


def _td(v, css: str = "") -> str:
    num = isinstance(v, (int, float)) and not isinstance(v, bool)
    cls = " ".join(c for c in (css, "num" if num else "") if c)
    cls = f' class="{cls}"' if cls else ""
    return f'<td{cls} data-v="{escape(_value(v))}">{escape(_shown(v))}</td>'


def _thumbs(rec: dict, labels: list[str]) -> list[str]:
    cells = []
    for label in labels:
        src = rec["images"].get(label)
        if src:
            cells.append(f'<td data-v=""><a href="{escape(src)}"><img src="{escape(src)}" '
                         f'alt="{escape(label)} {escape(rec["name"])}" loading="lazy"></a></td>')
        else:
            cells.append('<td data-v=""></td>')
    return cells


def _attempts(rec: dict) -> str:
    """The attempts cell: the count, with the causes of the earlier ones as its tooltip and
    below it (a row retried after its worker died is marked, not hidden)."""
    n, why = rec.get("attempts"), retried_text(rec)
    if not why:
        return _td(n)
    return (f'<td class="num retried" data-v="{escape(_value(n))}" title="{escape(why)}">'
            f'{escape(_shown(n))}<br><span class="why">{escape(why)}</span></td>')


def write_index(path: str, records: list[dict], title: str, notes: list[str],
                links: dict[str, str]) -> None:
    """Write the page. ``notes``: lines shown above the table; ``links``: text -> relative
    path (summary.csv, plot.png, batch.json).

    Columns: name, status, the reason a row failed (beside its name, not off-screen),
    attempts and why earlier attempts ended, thumbnails, then the metrics grouped under
    their command (an evaluate row's metrics are not behind empty optimize columns), then
    the options."""
    opts = option_columns(records)
    groups = command_metric_columns(records)
    labels = [lab for lab in ("before", "after", "light", "image")
              if any(lab in r["images"] for r in records)]
    lead = ['<th>name</th>', '<th>status</th>', '<th>error</th>', '<th>attempts</th>',
            *(f'<th class="nosort">{escape(lab)}</th>' for lab in labels)]
    head = [*lead, *(f"<th>{escape(m)}</th>" for _, mets in groups for m in mets),
            *(f"<th>{escape(o)}</th>" for o in opts)]
    # a first header row names the command of each group of metric columns
    top = (f'<th colspan="{len(lead)}" class="nosort"></th>'
           + "".join(f'<th colspan="{len(mets)}" class="nosort group">{escape(c)}</th>'
                     for c, mets in groups)
           + (f'<th colspan="{len(opts)}" class="nosort">options</th>' if opts else ""))
    first_opt = len(lead) + sum(len(m) for _, m in groups)
    body = []
    for r in records:
        cells = [_td(r["name"]), _td(r["status"]), _td(r["error"] or "", "err"),
                 _attempts(r), *_thumbs(r, labels),
                 *(_td(r["metrics"].get(m) if r["command"] == c else None)
                   for c, mets in groups for m in mets),
                 *(_td(r["options"].get(o)) for o in opts)]
        css = ' class="failed"' if r["status"] != "ok" else ""
        body.append(f"<tr{css}>{''.join(cells)}</tr>")
    filters = []
    for k, o in enumerate(opts):
        values = sorted({_value(r["options"].get(o)) for r in records})
        if len(values) < 2:
            continue
        choices = "".join(f'<option value="{escape(v)}">{escape(v or "(default)")}</option>'
                          for v in values)
        filters.append(f'<label>{escape(o)} <select data-col="{first_opt + k}">'
                       f'<option value="">all</option>{choices}</select></label>')
    filters.append('<label>status <select data-col="1"><option value="">all</option>'
                   '<option value="ok">ok</option><option value="failed">failed</option>'
                   '</select></label>')
    link_html = " · ".join(f'<a href="{escape(href)}">{escape(text)}</a>'
                           for text, href in links.items())
    html = (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
            f"<h1>{escape(title)}</h1>\n"
            + "".join(f'<p class="note">{escape(n)}</p>\n' for n in notes)
            + f"<p>{link_html}</p>\n"
            + "".join(f'<p><img src="{escape(href)}" alt="{escape(text)}" '
                      f'style="width:auto;max-width:640px"></p>\n'
                      for text, href in links.items() if href.endswith(".png"))
            + f'<div class="filters">{"".join(filters)}<label>text <input id="text-filter" '
              f'type="search" placeholder="filter rows"></label><span id="shown" class="note">'
              f'</span></div>\n'
            + f'<table id="runs"><thead><tr class="groups">{top}</tr>\n'
              f'<tr>{"".join(head)}</tr></thead>\n<tbody>\n'
            + "\n".join(body) + "\n</tbody></table>\n"
            + f"<script>{_SCRIPT}</script>\n</body>\n</html>\n")
    with atomic_path(path, suffix=".html") as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(html)
