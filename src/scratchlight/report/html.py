"""A few helpers for writing a self-contained HTML report (no template engine needed).

Every helper returns a string of HTML; text is escaped, so numbers and names from results
can be passed as they are. Images are referenced by relative paths, so the report folder
can be moved or zipped as a whole.
"""
from __future__ import annotations

import html
import os

from ..io.atomic import atomic_path

__all__ = ["escape", "img", "table", "section", "paragraph", "bullet_list", "page", "write_page"]

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.4; }
h1, h2, h3 { line-height: 1.2; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { image-rendering: pixelated; max-width: 100%; }
.agrees { color: #11692b; font-weight: 600; }
.differs { color: #a11b1b; font-weight: 600; }
.partly, .not-testable { color: #8a5a00; font-weight: 600; }
.note { color: #555; font-size: 0.9em; }
"""


def escape(text) -> str:
    """``text`` as HTML-safe text (quotes included)."""
    return html.escape(str(text), quote=True)


def img(src: str, alt: str = "", width: int | None = None) -> str:
    """An ``<img>`` for the relative path ``src`` (forward slashes on every system)."""
    w = f' width="{int(width)}"' if width else ""
    return f'<img src="{escape(src.replace(os.sep, "/"))}" alt="{escape(alt)}"{w}>'


def _cell(value, tag: str) -> str:
    """One cell; a value wrapped as ``("raw", html)`` is inserted unescaped, numbers align right."""
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "raw":
        return f"<{tag}>{value[1]}</{tag}>"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f'<{tag} class="num">{escape(value)}</{tag}>'
    return f"<{tag}>{escape(value)}</{tag}>"


def table(header: list, rows: list[list], caption: str = "") -> str:
    """An HTML table; cells are escaped unless given as ``("raw", html)``."""
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    head = "<tr>" + "".join(_cell(h, "th") for h in header) + "</tr>"
    body = "".join("<tr>" + "".join(_cell(c, "td") for c in row) + "</tr>" for row in rows)
    return f"<table>{cap}<thead>{head}</thead><tbody>{body}</tbody></table>"


def section(title: str, *parts: str, level: int = 2) -> str:
    """A heading followed by the given HTML parts."""
    return f"<h{level}>{escape(title)}</h{level}>\n" + "\n".join(parts)


def paragraph(text: str, css: str = "") -> str:
    """A paragraph of escaped text, with an optional CSS class."""
    cls = f' class="{escape(css)}"' if css else ""
    return f"<p{cls}>{escape(text)}</p>"


def bullet_list(items: list[str], raw: bool = False) -> str:
    """An unordered list; items are escaped unless ``raw``."""
    return "<ul>" + "".join(f"<li>{i if raw else escape(i)}</li>" for i in items) + "</ul>"


def page(title: str, body: str) -> str:
    """A complete HTML document with the report's style sheet."""
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
            f"<h1>{escape(title)}</h1>\n{body}\n</body>\n</html>\n")


def write_page(path: str | os.PathLike, title: str, body: str) -> None:
    """Write :func:`page` to ``path`` atomically (UTF-8)."""
    with atomic_path(path, suffix=".html") as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(page(title, body))
