"""Probability of detection (POD): planted scratches, their detectability, POD(a).

- ``fit``: the hit/miss GLM of MIL-HDBK-1823A (logit or probit on ln a) with a50, a90 and
  a90/95 by likelihood ratio or Wald.
- ``ahat``: the â-versus-a model (censored regression) and its POD curve.
- ``plant``: straight scratches of chosen size and orientation, one per cell of a plate.
- ``camera``: the inspection camera (photon and read noise, exposure, 8-bit output).
- ``config``: ``PodConfig``; ``measure``: d' of every defect under every light;
  ``analysis``: the fits and the orientation table; ``plots``, ``report``: the files;
  ``run``: ``run_pod``, the whole command.
"""
from __future__ import annotations

from ..lazy import lazy_getattr

# names loaded on first use (PEP 562), so that reading a plan or a PodConfig does not
# import SciPy's optimize and stats (about 1.5 s of a batch's start)
_LAZY_EXPORTS = {
    "AhatFit": ".ahat", "fit_ahat": ".ahat", "CameraModel": ".camera",
    "camera_frames": ".camera", "PodConfig": ".config", "HitMissFit": ".fit",
    "PodFitError": ".fit", "fit_hit_miss": ".fit", "measure_defects": ".measure",
    "pod_of_rows": ".run", "run_pod": ".run",
}

__all__ = ["PodConfig", "CameraModel", "camera_frames", "HitMissFit", "PodFitError",
           "fit_hit_miss", "AhatFit", "fit_ahat", "measure_defects", "pod_of_rows", "run_pod"]


__getattr__ = lazy_getattr(__name__, _LAZY_EXPORTS)
