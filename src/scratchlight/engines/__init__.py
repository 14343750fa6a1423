"""Stage 4 — engines: image for a light E, and dL/dE for an image gradient dL/dI."""
from .ad import ADEngine

__all__ = ["ADEngine"]
