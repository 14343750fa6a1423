"""One page's state: a surface, its camera, the light being painted, the region of interest.

A ``StudioSession`` wraps one :class:`scratchlight.Session` (the only thing it drives) and
adds what a page needs between calls: the current light, the painted region, the transport
engine that relights, and the job the page is following. The region is kept on the
prepared height-map grid, so it follows the surface when the camera moves: painting in the
image marks the cells in view nearest to the painted pixels' centres (``Scene.pixel_cell``),
a filled area of cells, and the mask of any view is ``Scene.cell_mask_to_image`` of them.
The last run belongs to the surface: a camera change keeps it, with the new view's region
(Resume, Evaluate and Export judge it under the new camera); opening another surface ends
it.

Methods that build or render run on the Mitsuba thread (``worker``); ``relight`` and the
mask bookkeeping are NumPy only.
"""
from __future__ import annotations

import dataclasses
import math
import threading
import time

import numpy as np

from ..errors import InputError
from ..scene import CameraSpec, SceneSpec
from ..session import Session

__all__ = ["StudioSettings", "ViewSettings", "StudioSession", "NotReady", "MASK_MODES",
           "describe_heightmap"]

MASK_MODES = ("object", "scratch", "painted")


class NotReady(Exception):
    """The session has no surface (or no matrix) yet."""


@dataclasses.dataclass(frozen=True)
class StudioSettings:
    """Server-wide choices every page session shares."""

    envmap_shape: tuple[int, int] = (25, 50)
    relight_spp: int = 16
    max_size: int = 1024
    device: str = "auto"


# The page's names of the camera's fields (``scene.CameraSpec``, the one camera model).
PAGE_CAMERA_FIELDS = {"camera": "preset", "azimuth": "azimuth_deg", "elevation": "elevation_deg"}


@dataclasses.dataclass(frozen=True)
class ViewSettings:
    """The page's view: a camera (the oblique and top presets of ``scene.CameraSpec``) and a
    square resolution in pixels."""

    camera: CameraSpec = CameraSpec()
    resolution: int = 256

    @classmethod
    def from_json(cls, d: dict, base: "ViewSettings") -> "ViewSettings":
        """The view the page asks for: its keys (``PAGE_CAMERA_FIELDS`` and ``resolution``),
        each missing one taken from ``base``; raises InputError when it is out of range or
        names an unknown key (with the closest valid one)."""
        from ..options import unknown_name

        keys = (*PAGE_CAMERA_FIELDS, "resolution")
        for key in d:
            if key not in keys:
                raise unknown_name(key, keys)
        try:
            changes = {field: float(d[key]) if field != "preset" else str(d[key])
                       for key, field in PAGE_CAMERA_FIELDS.items() if key in d}
            view = cls(camera=dataclasses.replace(base.camera, **changes),
                       resolution=int(d.get("resolution", base.resolution)))
        except (TypeError, ValueError):
            raise InputError("camera", "azimuth and elevation must be numbers, resolution an integer") from None
        view.validate()
        return view

    def to_json(self) -> dict:
        """The view in the page's keys (the inverse of ``from_json``)."""
        return {**{key: getattr(self.camera, field) for key, field in PAGE_CAMERA_FIELDS.items()},
                "resolution": self.resolution}

    def validate(self) -> None:
        """The page's limits: oblique or top, elevation 5..90 degrees (the surface seen from
        above), azimuth within +-360 degrees, 16..1024 pixels."""
        cam = self.camera
        if cam.preset not in ("oblique", "top"):
            raise InputError("camera", f"must be oblique or top, got {cam.preset!r}")
        if not (math.isfinite(cam.azimuth_deg) and -360 <= cam.azimuth_deg <= 360):
            raise InputError("camera.azimuth", "must be in [-360, 360] degrees")
        if not (math.isfinite(cam.elevation_deg) and 5 <= cam.elevation_deg <= 90):
            raise InputError("camera.elevation", "must be in [5, 90] degrees")
        if not 16 <= self.resolution <= 1024:
            raise InputError("camera.resolution", "must be in [16, 1024] pixels")

    def scene_spec(self) -> SceneSpec:
        return SceneSpec(exaggeration="auto", camera=self.camera, width=self.resolution,
                         height=self.resolution)


def describe_heightmap(hm, name: str) -> dict:
    """The facts ``scratchlight info`` prints, for the page."""
    h = hm.heights[hm.valid]
    w, hh = hm.size_m
    return {"name": name, "grid": [int(hm.shape[1]), int(hm.shape[0])],
            "spacing_um": [hm.dx * 1e6, hm.dy * 1e6], "size_mm": [w * 1e3, hh * 1e3],
            "height_min_um": float(h.min() * 1e6), "height_max_um": float(h.max() * 1e6),
            "height_range_um": float(np.ptp(h) * 1e6), "height_rms_um": float(np.std(h) * 1e6),
            "missing_fraction": float(hm.missing_fraction), "has_truth": hm.truth is not None,
            "warnings": list(hm.warnings)}  # what the reader assumed, shown on the page


class StudioSession:
    """The state of one page (module docstring)."""

    KEEP_VIEWS = 2  # scenes of earlier camera views kept for an instant return

    def __init__(self, sid: str, settings: StudioSettings, view: ViewSettings | None = None):
        self.id = sid
        self.settings = settings
        self.lock = threading.RLock()
        self.last_used = time.monotonic()
        self.session: Session | None = None
        self.surface_name: str | None = None
        self.surface_path: str | None = None
        self.info: dict | None = None
        self.view = view or ViewSettings()
        self.light = np.full((*settings.envmap_shape, 1), 0.5, np.float32)
        self.roi_cells: np.ndarray | None = None
        self.mask_mode = "object"
        self.mask_note = ""
        self.engine = None
        self.job = None
        self.stop_event = threading.Event()
        self.optimizing = False
        self.run_inputs: dict = {}
        self.run_note = ""  # said with the run after a camera change
        self.closed = False
        self.sockets = 0  # open optimization sockets: the page is open (registry.in_use)
        self._views: dict = {}  # (path, view) -> Session of views left, without matrices
        self._owners = None  # (scene, (cells, pixels)) of _cell_owners

    # ------------------------------------------------------------------ building
    def load(self, path: str, name: str, view: ViewSettings, job=None) -> dict:
        """Read and prepare ``path``, build its scene for ``view`` and the relighting matrix
        (Mitsuba thread). The old surface stays in use if anything fails."""
        from ..scene import constant_envmap
        from ..surface import SurfaceConfig

        if self.optimizing:
            raise InputError("surface", "stop the optimization first")
        report = job.report if job is not None else (lambda *a, **k: None)
        key = (str(path), view)
        raw = []
        if key in self._views:  # a view seen before: its scene is kept, T is in the disk cache
            session = self._views.pop(key)
        else:
            report(0.05, "reading and building the scene")
            session = Session(SurfaceConfig(path=str(path), max_size=self.settings.max_size),
                              view.scene_spec(), device=self.settings.device,
                              envmap=constant_envmap(0.5, self.settings.envmap_shape),
                              before_prepare=lambda hm: raw.append(hm) or hm)
        report(0.2, "building the transport matrix")
        engine = session.transport_engine(
            self.settings.relight_spp, 0, self.settings.envmap_shape,
            progress=lambda d, t: report(0.2 + 0.8 * d / t, f"building the transport matrix ({d}/{t})"))
        same_surface = str(path) == self.surface_path and self.session is not None
        with self.lock:
            # the run belongs to the surface: a camera change keeps it (judged anew below)
            run = self.session.run if same_surface else None
            if self.session is not None:
                self.session.drop_engines()
                if same_surface:  # keep the scene of the view being left
                    self._views[(self.surface_path, self.view)] = self.session
                    while len(self._views) > self.KEEP_VIEWS:
                        self._views.pop(next(iter(self._views)))
            if not same_surface:
                self._views.clear()
            self.session, self.engine, self.view = session, engine, view
            if not same_surface:
                self.info = describe_heightmap(raw[0], name)
                self.surface_name, self.surface_path = name, str(path)
                self.roi_cells, self.mask_mode = None, "object"
                self.run_inputs = {}
            self._apply_mask()
            if run is not None:  # its lights are the camera's own; its region is this view's
                run = dataclasses.replace(run, mask=session.mask.copy())
                self.run_note = ("the run's loss so far was measured under an earlier camera; "
                                 "Resume, Evaluate and Export use this one")
            else:
                self.run_note = ""
            session.run = run  # a view kept from before may hold an older run
        return self.status()

    def ensure_engine(self, job=None):
        """The relighting engine, rebuilt (from the on-disk cache) after it was released."""
        with self.lock:
            if self.session is None:
                raise NotReady("load a surface first")
            if self.engine is None:
                self.engine = self.session.transport_engine(self.settings.relight_spp, 0,
                                                            self.settings.envmap_shape)
            return self.engine

    def release_engines(self) -> bool:
        """Free the matrices (not while optimizing); True when something was freed."""
        with self.lock:
            if self.optimizing or self.engine is None or self.session is None:
                return False
            self.engine = None
            self.session.drop_engines()
            return True

    def close(self) -> None:
        """Stop any run and free the surface (an optimizing thread keeps its session until
        it ends)."""
        self.closed = True
        self.stop_event.set()
        with self.lock:
            self.engine = None
            self._views.clear()
            self._owners = None
            if self.session is not None and not self.optimizing:
                self.session.drop_engines()
                self.session = None

    # ------------------------------------------------------------------ light
    def set_light(self, E: np.ndarray) -> None:
        self.light = np.asarray(E, np.float32)

    def relight(self, E: np.ndarray | None = None) -> np.ndarray:
        """The image (h, w, 3) under ``E`` (default the current light) by the matrix."""
        engine = self.engine
        if engine is None:
            raise NotReady("the surface is still being prepared")
        return engine.relight(self.light if E is None else E)

    # ------------------------------------------------------------------ region of interest
    def _region(self):
        if self.mask_mode == "painted" and self.roi_cells is not None:
            return self.session.scene.cell_mask_to_image(self.roi_cells)
        return "scratch" if self.mask_mode == "scratch" else "object"

    def _apply_mask(self) -> None:
        """Give the session the mask of the current mode; a painted region that this view
        does not show falls back to the whole surface (with a note)."""
        self.mask_note = ""
        try:
            self.session.set_mask(self._region())
        except InputError as e:
            self.mask_note = f"{e.problem}; using the whole surface in this view"
            self.session.set_mask("object")

    def _require(self) -> Session:
        if self.session is None:
            raise NotReady("load a surface first")
        return self.session

    def set_mask_mode(self, mode: str) -> dict:
        session = self._require()
        if mode not in MASK_MODES:
            raise InputError("mask", f"must be one of {', '.join(MASK_MODES)}, got {mode!r}")
        if mode == "painted" and self.roi_cells is None:
            raise InputError("mask", "paint a region on the image first")
        region = session.scene.cell_mask_to_image(self.roi_cells) if mode == "painted" else mode
        with self.lock:
            session.set_mask(region)  # InputError (mask unchanged) if it leaves too few pixels
            self.mask_mode, self.mask_note = mode, ""
        return self.mask_summary()

    def paint_mask(self, image_mask: np.ndarray) -> dict:
        """Make the painted pixels (h, w) bool of this view the region: the cells seen at
        visible pixels take the painted state, cells out of view keep theirs."""
        session = self._require()
        scene = session.scene
        if image_mask.shape != scene.image_shape:
            raise InputError("mask", f"mask of shape {image_mask.shape} does not match the image "
                                     f"{tuple(scene.image_shape)}")
        cells = np.zeros(session.heightmap.shape, bool) if self.roi_cells is None else self.roi_cells.copy()
        in_view, owner = self._cell_owners(scene)
        cells.ravel()[in_view] = image_mask.ravel()[owner]
        with self.lock:
            session.set_mask(scene.cell_mask_to_image(cells))  # InputError if (nearly) empty
            self.roi_cells, self.mask_mode, self.mask_note = cells, "painted", ""
        return self.mask_summary()

    def _cell_owners(self, scene) -> tuple[np.ndarray, np.ndarray]:
        """The cells in view (flat indices into the height-map grid) and, for each, the
        pixel (flat index into the image) whose centre lands nearest to it on the surface.

        A pixel covers several cells when the grid is finer than the image; marking only
        the cell at each pixel centre would leave a painted stroke as a lattice of dots, which
        another camera shows as scattered specks. Giving every cell the state of its nearest
        pixel centre makes a painted area a filled area of cells. Cells farther than about
        one pixel footprint from every pixel centre are out of view (outside the image or
        hidden) and keep their state. Computed once per scene."""
        if self._owners is not None and self._owners[0] is scene:
            return self._owners[1]
        from scipy.spatial import cKDTree

        pc = scene.pixel_cell
        seen = pc[..., 0] >= 0
        pts = pc[seen].astype(np.float64)  # (n, 2): row i, column j
        pixel = np.flatnonzero(seen.ravel())
        # the footprint of a pixel in cells: the step to its right and lower neighbours
        steps = np.concatenate([
            np.linalg.norm((pc[a] - pc[b]).astype(np.float64), axis=-1)[seen[a] & seen[b]]
            for a, b in (((slice(None), slice(1, None)), (slice(None), slice(None, -1))),
                         ((slice(1, None), slice(None)), (slice(None, -1), slice(None))))])
        steps = steps if steps.size else np.ones(1)
        reach = 0.75 * float(np.percentile(steps, 95)) + 0.5
        ny, nx = scene.heightmap.shape
        lo = np.maximum(np.floor(pts.min(0) - reach), 0).astype(int)
        hi = np.minimum(np.ceil(pts.max(0) + reach), (ny - 1, nx - 1)).astype(int)
        ii, jj = np.mgrid[lo[0]:hi[0] + 1, lo[1]:hi[1] + 1]
        d, k = cKDTree(pts).query(np.stack([ii.ravel(), jj.ravel()], 1), distance_upper_bound=reach)
        near = np.isfinite(d)
        owners = ((ii.ravel() * nx + jj.ravel())[near], pixel[k[near]])
        self._owners = (scene, owners)
        return owners

    def load_roi(self, path: str) -> dict:
        """A region saved as a PNG in the height map's grid (what ``optimize --mask`` takes)."""
        from ..io import read_png_mask
        from ..surface.prepare import resample_mask

        session = self._require()
        with self.lock:
            session.set_mask(str(path))  # checks the size, says what is wrong
            self.roi_cells = resample_mask(read_png_mask(path), session.heightmap.shape)
            self.mask_mode, self.mask_note = "painted", ""
        return self.mask_summary()

    def roi_on_grid(self) -> np.ndarray:
        """The painted region on the height-map file's grid (for ``optimize --mask``)."""
        from ..surface.prepare import resample_mask

        session = self._require()
        if self.roi_cells is None:
            raise InputError("mask", "no painted region yet")
        return resample_mask(self.roi_cells, session.raw_shape)

    def mask_summary(self) -> dict:
        session = self._require()
        return {"mode": self.mask_mode, "pixels": int(session.mask.sum()),
                "surface_pixels": int(session.object_mask.sum()), "note": self.mask_note}

    # ------------------------------------------------------------------ reporting
    def status(self) -> dict:
        s = self.session
        run = s.run if s is not None else None
        return {
            "id": self.id,
            "surface": self.info,
            "view": self.view.to_json(),
            "image_shape": list(s.scene.image_shape) if s is not None else None,
            "exaggeration": float(s.scene.spec.exaggeration) if s is not None else None,
            "envmap_shape": list(self.settings.envmap_shape),
            "ready": self.engine is not None,
            "mask": self.mask_summary() if s is not None else None,
            "optimizing": self.optimizing,
            "run": None if run is None else {"iterations_done": run.iterations_done,
                                             "loss": [float(v) for v in run.loss],
                                             "stopped": run.stopped,
                                             "best_loss": float(min(run.loss)) if run.loss else None,
                                             "note": self.run_note},
            "job": self.job.to_json() if self.job is not None else None,
        }
