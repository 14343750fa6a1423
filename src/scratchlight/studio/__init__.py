"""The studio: a local web page over the session (``scratchlight studio``).

The page shows a surface, lets the user paint the light and a region of interest, and
streams the paper's optimization live. The server is a thin caller of
:class:`scratchlight.Session`: ``workspace`` (one page's state), ``runs`` (optimize,
evaluate, export), ``registry`` (bounded sessions), ``worker`` (the Mitsuba thread and
jobs), ``security`` (token, origin, paths, upload limits), ``imaging`` and ``lights``
(what goes over the wire), ``routes`` and ``stream`` (HTTP and WebSocket), ``app`` (the
whole). Nothing but the command line imports it.
"""
from .config import StudioConfig

__all__ = ["Studio", "StudioConfig", "create_app"]


def __getattr__(name: str):
    """``Studio`` and ``create_app`` import the web server (optional packages) on first use,
    so ``StudioConfig`` (the command's flags) is importable without them."""
    if name in ("Studio", "create_app"):
        from . import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
