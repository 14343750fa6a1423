"""Assemble the Mitsuba scene and the image-space facts the objective needs.

``build_scene`` returns a :class:`Scene`: the loaded Mitsuba scene plus
- ``object_mask`` (H, W) bool: pixels fully covered by the surface whose +x and +y
  neighbours are too, so every finite difference of L_grad stays on the surface;
- ``pixel_cell`` (H, W, 2) int: the height-map cell (row i, column j) seen at each pixel
  centre, -1 where the pixel shows the background. It carries masks from height-map space
  (scratch map, user regions, ground truth) into image space.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..errors import InputError
from ..heightmap import HeightMap
from ..options import check_declared, option
from .camera import CameraSpec, sensor_dict
from .emitter import envmap_dict
from .envmap import DEFAULT_ENVMAP_SHAPE, constant_envmap
from .materials import MATERIALS, conductor_bsdf
from .mesh import auto_exaggeration, heightmap_to_mesh, units_per_metre

__all__ = ["SceneSpec", "Scene", "build_scene", "scene_sensor_dict", "check_scene_memory",
           "SCENE_BYTES_PER_POINT", "ENVMAP_KEY"]

ENVMAP_KEY = "envmap.data"


def _exaggeration(value) -> float | str:
    """'auto' or a positive number (text or typed)."""
    if str(value).strip().lower() == "auto":
        return "auto"
    try:
        v = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        v = math.nan
    if not math.isfinite(v) or v <= 0:
        raise InputError("scene.exaggeration", f"must be a positive number or 'auto', got {value!r}")
    return v


@dataclasses.dataclass(frozen=True)
class SceneSpec:
    """How to turn a height map into a rendered image.

    Attributes:
        material: metal preset ('aluminium', 'steel', 'copper', 'chrome').
        roughness: GGX alpha of the conductor (0 = mirror).
        exaggeration: factor on heights (1 = true proportions), or 'auto' (see
            ``mesh.auto_exaggeration``); the Scene's spec holds the resolved number.
        camera: camera preset and parameters.
        width, height: image size in pixels.
        max_depth: Mitsuba path depth (2 = direct light only, 3 = one interreflection, ...).
    """

    material: str = option("aluminium", "metal preset", choices=tuple(sorted(MATERIALS)))
    roughness: float = option(0.02, "GGX alpha, 0 = mirror", lo=0.0, hi=1.0)
    exaggeration: float | str = option(
        1.0, "height factor: a number (1 = true proportions) or auto (1 unless the "
             "99th-percentile slope is under 0.15 rad, then lifted to it)", parse=_exaggeration)
    camera: CameraSpec = dataclasses.field(default_factory=CameraSpec)
    width: int = option(512, "image size N or WxH", name="resolution", pair="height", sep="x",
                        lo=8, hi=8192)
    height: int = option(512, "image height (set with resolution WxH)", lo=8, hi=8192, cli=False)
    max_depth: int = option(3, "path depth: 2 = direct only, 3 = one interreflection", lo=2,
                            hi=64)

    def validate(self) -> None:
        """Raise InputError naming the field (``scene.<name>``) for a value no render can use."""
        from ..errors import InputError
        from .camera import CAMERA_PRESETS
        from .materials import MATERIALS

        cam = self.camera
        checks = [
            (self.material in MATERIALS, "scene.material",
             f"must be one of {', '.join(sorted(MATERIALS))}, got {self.material!r}"),
            (0.0 <= self.roughness <= 1.0, "scene.roughness", f"must be in [0, 1], got {self.roughness}"),
            (self.exaggeration == "auto" or (isinstance(self.exaggeration, (int, float))
                                              and np.isfinite(self.exaggeration)
                                              and self.exaggeration > 0),
             "scene.exaggeration", f"must be a positive number or 'auto', got {self.exaggeration!r}"),
            (min(self.width, self.height) >= 8, "scene.width",
             f"image sides must be >= 8, got {self.width} x {self.height}"),
            (max(self.width, self.height) <= MAX_IMAGE_SIDE, "scene.width",
             f"image sides must be <= {MAX_IMAGE_SIDE}, got {self.width} x {self.height} "
             f"(about {self.width * self.height * 256 / 2**30:.0f} GiB per render pass)"),
            (all(np.isfinite(v) for v in (cam.elevation_deg, cam.azimuth_deg, cam.fov_deg,
                                          *cam.target, *(cam.origin or ()))),
             "scene.camera", "camera angles and positions must be finite numbers"),
            (self.max_depth >= 2, "scene.max_depth", f"must be at least 2, got {self.max_depth}"),
            (cam.preset in CAMERA_PRESETS, "scene.camera.preset",
             f"must be one of {', '.join(CAMERA_PRESETS)}, got {cam.preset!r}"),
            (1.0 <= cam.fov_deg < 170.0, "scene.camera.fov_deg",
             f"must be in [1, 170) degrees, got {cam.fov_deg}"),
            (cam.preset != "custom" or cam.origin is not None, "scene.camera.origin",
             "a custom camera needs an origin X,Y,Z"),
            (cam.preset == "custom" or cam.origin is None, "scene.camera.origin",
             "only used with the custom camera"),
        ]
        for ok, field, problem in checks:
            if not ok:
                raise InputError(field, problem)
        check_declared(self, "scene.")


MAX_IMAGE_SIDE = 8192
"""Largest image side in pixels (a render pass keeps ~256 bytes per pixel)."""


@dataclasses.dataclass
class Scene:
    mitsuba_scene: object
    spec: SceneSpec
    heightmap: HeightMap
    envmap_shape: tuple[int, int]
    object_mask: np.ndarray
    pixel_cell: np.ndarray

    @property
    def image_shape(self) -> tuple[int, int]:
        return (self.spec.height, self.spec.width)

    def digest(self) -> str:
        """Hex SHA-256 of everything a render of this scene depends on besides the light:
        height-map bytes, validity and spacing, the SceneSpec, the envmap shape, and the
        Mitsuba version and variant (their random sequences differ). Caches of what is
        computed from the scene (transport matrices, judging renders) key on it."""
        import hashlib

        import mitsuba as mi

        hm = self.heightmap
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(hm.heights, np.float64).tobytes())
        h.update(np.ascontiguousarray(hm.valid, bool).tobytes())
        h.update(repr((hm.heights.shape, float(hm.dx), float(hm.dy))).encode())
        h.update(repr(self.spec).encode())
        h.update(repr(tuple(int(v) for v in self.envmap_shape)).encode())
        h.update(f"{mi.__version__} {mi.variant()}".encode())
        return h.hexdigest()

    def cell_mask_to_image(self, cell_mask: np.ndarray) -> np.ndarray:
        """Carry a (ny, nx) bool mask in height-map space to an (H, W) image mask."""
        cell_mask = np.asarray(cell_mask, bool)
        if cell_mask.shape != self.heightmap.shape:
            raise ValueError(f"mask of shape {cell_mask.shape} does not match the height map "
                             f"{self.heightmap.shape}")
        i, j = self.pixel_cell[..., 0], self.pixel_cell[..., 1]
        hit = i >= 0
        out = np.zeros(self.image_shape, bool)
        out[hit] = cell_mask[i[hit], j[hit]]
        return out


def _image_geometry(mscene, hm: HeightMap, upm: float, W: int, H: int):
    """Trace primary rays at 3 x 3 points per pixel, from just inside its corners to its
    centre: the full-coverage mask, and the cell seen at each pixel centre."""
    import drjit as dr
    import mitsuba as mi

    sensor = mscene.sensors()[0]
    # sub-pixel offsets (ss x ss grid) plus the centre
    offs = np.array([0.001, 0.5, 0.999])  # corners first: an edge pixel misses one of them
    oy, ox = np.meshgrid(offs, offs, indexing="ij")
    offsets = np.concatenate([np.stack([ox.ravel(), oy.ravel()], 1), [[0.5, 0.5]]])
    py, px = np.mgrid[0:H, 0:W]
    covered = np.ones((H, W), bool)
    cell = np.full((H, W, 2), -1, np.int64)
    ny, nx = hm.shape
    for k, (fx, fy) in enumerate(offsets):
        u = ((px + fx) / W).ravel().astype(np.float32)
        v = ((py + fy) / H).ravel().astype(np.float32)
        ray, _ = sensor.sample_ray(0.0, 0.5, mi.Point2f(u, v), mi.Point2f(0.5, 0.5))
        si = mscene.ray_intersect(ray)
        hit = np.array(si.is_valid()).reshape(H, W)
        if k < len(offsets) - 1:
            covered &= hit
        else:
            p = np.array(si.p)  # (3, N) in Dr.Jit layout
            p = p.reshape(3, -1) if p.shape[0] == 3 else p.T
            x, y = p[0].reshape(H, W), p[1].reshape(H, W)
            j = np.rint(x / (upm * hm.dx) + 0.5 * (nx - 1)).astype(np.int64)
            i = np.rint(y / (upm * hm.dy) + 0.5 * (ny - 1)).astype(np.int64)
            ok = hit & (i >= 0) & (i < ny) & (j >= 0) & (j < nx)
            cell[ok, 0], cell[ok, 1] = i[ok], j[ok]
    # A single ray can slip between two triangles of the watertight-in-theory mesh; the
    # image of a height field has no holes, so enclosed misses are such slips.
    from scipy import ndimage  # here, not at the top: SciPy costs the command's start

    covered = ndimage.binary_fill_holes(covered)
    mask = covered.copy()
    mask[:, :-1] &= covered[:, 1:]
    mask[:-1, :] &= covered[1:, :]
    mask[:, -1] = False
    mask[-1, :] = False
    return mask, cell


SCENE_BYTES_PER_POINT = 250
"""Peak memory (bytes) that building a scene takes per height-map point: the mesh
(vertices, faces, normals) and Mitsuba's Embree BVH, which Mitsuba builds at its highest
quality. Measured: 6.19 GB above the read map for a 5000 x 5000 grid
(``benchmarks/grid_scene.py``)."""


def check_scene_memory(hm: HeightMap) -> None:
    """Refuse, before any allocation, a height map whose scene would need more memory than
    this process can still have (``io.guards.available_memory``): an InputError naming
    ``surface.max_size``, the option that shrinks the grid."""
    from ..io.guards import available_memory, format_bytes

    ny, nx = hm.shape
    need = ny * nx * SCENE_BYTES_PER_POINT
    free = available_memory()
    if free is not None and need > free:
        raise InputError("surface.max_size",
                         f"a {nx} x {ny} grid needs about {format_bytes(need)} to build its "
                         f"scene (mesh and Mitsuba's BVH, ~{SCENE_BYTES_PER_POINT} bytes a "
                         f"point) and only {format_bytes(free)} is available: resample it "
                         f"(a smaller --max-size)")


def scene_sensor_dict(hm: HeightMap, spec: SceneSpec, spp: int,
                      sampler: str = "independent") -> dict:
    """The Mitsuba sensor dict of the scene of ``hm`` and ``spec`` (its exaggeration
    resolved) at ``spp`` with Mitsuba's ``sampler``: the camera every render of it uses."""
    upm = units_per_metre(hm)
    w, h = hm.size_m
    half_z = float(np.ptp(hm.heights)) * upm * spec.exaggeration / 2 + 1e-6
    return sensor_dict(spec.camera, w * upm / 2, h * upm / 2, half_z, spec.width, spec.height,
                       spp, sampler)


def build_scene(hm: HeightMap, spec: SceneSpec = SceneSpec(), envmap: np.ndarray | None = None,
                spp: int = 64) -> Scene:
    """Load the Mitsuba scene of a (filled) height map under ``envmap`` (H, W, 1|3).

    The envmap defaults to a constant 0.5 of 25 x 50 texels; it is only the starting value
    of the emitter parameter that engines update in place.
    """
    from ..backend import current_variant

    current_variant()
    import mitsuba as mi

    check_scene_memory(hm)
    if envmap is None:
        envmap = constant_envmap(0.5, DEFAULT_ENVMAP_SHAPE)
    if spec.exaggeration == "auto":
        spec = dataclasses.replace(spec, exaggeration=auto_exaggeration(hm))
    mesh = heightmap_to_mesh(hm, spec.exaggeration,
                             bsdf=mi.load_dict(conductor_bsdf(spec.material, spec.roughness)))
    scene_dict = {
        "type": "scene",
        "integrator": {"type": "prb", "max_depth": int(spec.max_depth)},
        "sensor": scene_sensor_dict(hm, spec, spp),
        "envmap": envmap_dict(envmap),
        "surface": mesh,
    }
    mscene = mi.load_dict(scene_dict)
    mask, cell = _image_geometry(mscene, hm, units_per_metre(hm), spec.width, spec.height)
    return Scene(mitsuba_scene=mscene, spec=spec, heightmap=hm,
                 envmap_shape=tuple(np.asarray(envmap).shape[:2]), object_mask=mask,
                 pixel_cell=cell)
