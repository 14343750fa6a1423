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
from .ahat import AhatFit, fit_ahat
from .camera import CameraModel, camera_frames
from .config import PodConfig
from .fit import HitMissFit, PodFitError, fit_hit_miss
from .measure import measure_defects
from .run import pod_of_rows, run_pod

__all__ = ["PodConfig", "CameraModel", "camera_frames", "HitMissFit", "PodFitError",
           "fit_hit_miss", "AhatFit", "fit_ahat", "measure_defects", "pod_of_rows", "run_pod"]
