"""Synthetic machined surfaces with planted defects and their ground-truth mask.

Each surface is built from a kinematic model of the cut, in physical units: heights in
metres (micrometre relief), a square grid of ``size`` x ``size`` points ``spacing`` apart
(default 5 um, so a 512-point map is 2.56 mm wide). Column ``j`` is x (the feed direction),
row ``i`` is y.

- ``kinematics``: the machining marks of each kind (turning, face mill, ball end, ground).
- ``texture``: chatter waviness and self-affine roughness, added to every kind.
- ``defects``: planted scratches and dents, and the ground truth they define.
- ``synthesize``: ``synthesize`` puts them together from independent random streams.
- ``grid``: the grid coordinates and argument checks the models share.
"""
from .defects import TRUTH_FRACTION, plant_dents, plant_scratches, scratch_paths
from .kinematics import ball_end_marks, face_mill_marks, ground_marks, turning_marks
from .synthesize import KIND_DEFAULTS, KINDS, synthesize
from .texture import chatter_waviness, self_affine_roughness

__all__ = [
    "KINDS", "KIND_DEFAULTS", "TRUTH_FRACTION", "synthesize", "turning_marks",
    "face_mill_marks", "ball_end_marks", "ground_marks", "self_affine_roughness",
    "chatter_waviness", "scratch_paths", "plant_scratches", "plant_dents",
]
