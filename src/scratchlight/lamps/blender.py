"""Blender files of a rig: ``blender_rig.py`` and ``blender_world.exr``.

``blender_rig.py`` (``blender --python rig/blender_rig.py``, or in the background with
``-- --render FILE``) builds the part (``surface.ply``, the mesh of ``scene.xml``), a metal
(Principled BSDF, metallic, roughness sqrt(alpha)), the camera of the Mitsuba scene and the
light, in one of two ways:

- ``suns`` (lamp rigs, their default): each lamp up to four concentric Sun lights whose
  sum is the lamp as the rig's map renders it (spread over about a texel, ``_seen_discs``),
  strengths in irradiance (a bar becomes a row of them along its axis), on a black world;
- ``world`` (LED domes, and lamp rigs with ``-- --world``): the rig's footprint, the very
  map ``scene.xml`` renders, as the world's Environment Texture ``blender_world.exr``, baked
  for Blender's equirectangular convention (below), so no mapping node is needed.

Blender's metal is an approximation of Mitsuba's conductor, so the two renders share the
pattern (where the part is bright), not the exact values (``blender_check`` compares them).

Blender's equirectangular convention (measured in Blender 3.4.1, Cycles). A world
direction (x, y, z), z up, is looked up at

    u = frac(1/2 - atan2(y, x) / 2 pi)      (0 at the image's left edge, 1 at its right)
    v = acos(z) / pi                        (0 at the image's top row, 1 at its bottom)

and texel (row r from the top of the file, column c from the left) is centred at
u = (c + 1/2) / W, v = (r + 1/2) / H, bilinear in between ("Linear" interpolation). So +x
looks at the image's centre, +y at a quarter of its width, the zenith at its top row.
Measured with an Environment Texture coding each texel by its (column + 1/2, row + 1/2) in
R and G (16 x 32, Non-Color, Linear) and a 1 x 1-pixel camera of 0.05 degrees field of view
turned towards eight known directions (``tests/lamps/test_lamps_blender.py`` keeps the readings): the
rendered R, G equalled W u and H v of the formula to within 0.004 texel. Our map (rows at
polar angles pi r / (H - 1), columns at 2 pi (c + 1/2) / W = atan2(x, y)) differs in both
the row grid and the azimuth origin, so the footprint is resampled, not copied:
``bake_blender_world`` evaluates Mitsuba's bilinear lookup of the footprint at the centres of
a grid ``BLENDER_WORLD_UPSAMPLE`` times finer.
"""
from __future__ import annotations

import math
import os
import pprint

import numpy as np

from ..io.atomic import atomic_path
from ..scene.envmap import bilinear_lookup
from .geometry import Lamp, tangent_frame

__all__ = ["BLENDER_WORLD_UPSAMPLE", "blender_uv", "blender_texel", "blender_directions",
           "bake_blender_world", "blender_lamps", "euler_xyz", "blender_script",
           "write_blender_files"]

BLENDER_WORLD_UPSAMPLE = 4

# Linear RGB base colours of the metals for Blender's Principled BSDF (approximate).
_BASE_COLOR = {"aluminium": (0.913, 0.922, 0.924), "steel": (0.562, 0.565, 0.578),
               "copper": (0.955, 0.638, 0.538), "chrome": (0.550, 0.556, 0.554)}


# ---- the world map --------------------------------------------------------------------------

def blender_uv(directions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Blender's (u, v) of world directions (N, 3), unit vectors (module docstring)."""
    d = np.asarray(directions, np.float64)
    u = np.mod(0.5 - np.arctan2(d[:, 1], d[:, 0]) / (2 * np.pi), 1.0)
    v = np.arccos(np.clip(d[:, 2], -1.0, 1.0)) / np.pi
    return u, v


def blender_texel(directions: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The texel (row from the top, column), (N,) int64 each, that holds each direction in
    an (H, W) image read by Blender's equirectangular Environment Texture."""
    H, W = shape
    u, v = blender_uv(directions)
    return (np.clip(np.floor(v * H).astype(np.int64), 0, H - 1),
            np.floor(u * W).astype(np.int64) % W)


def blender_directions(shape: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) world directions of the texel centres of an (H, W) Blender world image."""
    H, W = shape
    theta = np.pi * (np.arange(H) + 0.5) / H
    phi = 2 * np.pi * (0.5 - (np.arange(W) + 0.5) / W)       # atan2(y, x)
    st = np.sin(theta)[:, None]
    return np.stack([st * np.cos(phi)[None, :], st * np.sin(phi)[None, :],
                     np.broadcast_to(np.cos(theta)[:, None], (H, W))], axis=-1)


def bake_blender_world(F: np.ndarray, upsample: int = BLENDER_WORLD_UPSAMPLE) -> np.ndarray:
    """The map F (H, W[, C]) of our convention as a Blender world image, float32
    (upsample H, upsample W[, C]): Mitsuba's radiance of F at each texel centre."""
    F = np.asarray(F, np.float32)
    H, W = F.shape[:2]
    shape = (upsample * H, upsample * W)
    out = bilinear_lookup(F, blender_directions(shape).reshape(-1, 3))
    out = out.reshape(shape + (out.shape[1],)).astype(np.float32)
    return out[..., 0] if F.ndim == 2 or out.shape[2] == 1 else out


# ---- the lamps as sun lights ----------------------------------------------------------------

def euler_xyz(R: np.ndarray) -> tuple[float, float, float]:
    """Blender's XYZ Euler angles (radians) of a rotation matrix R = Rz Ry Rx."""
    R = np.asarray(R, np.float64)
    beta = -math.asin(float(np.clip(R[2, 0], -1.0, 1.0)))
    if abs(math.cos(beta)) > 1e-9:
        return (math.atan2(R[2, 1], R[2, 2]), beta, math.atan2(R[1, 0], R[0, 0]))
    return (math.atan2(-R[1, 2], R[1, 1]), beta, 0.0)


def _pointing(z_axis: np.ndarray, up_hint=(0.0, 0.0, 1.0)) -> np.ndarray:
    """A rotation whose local +z is ``z_axis`` and whose local +y leans towards up_hint."""
    z = np.asarray(z_axis, np.float64) / np.linalg.norm(z_axis)
    hint = np.asarray(up_hint, np.float64)
    if abs(np.dot(hint, z)) > 0.999:
        hint = np.array([0.0, 1.0, 0.0])
    x = np.cross(hint, z)
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z], axis=1)


def _seen_discs(lamp: Lamp, shape: tuple[int, int] | None) -> list[tuple[float, float]]:
    """[(angular diameter, rad; share of the lamp's power)] of concentric uniform discs whose
    sum matches what a render of the rig's map sees of this lamp: Mitsuba's bilinear lookup
    of the lamp's footprint on the ``shape`` texel grid, which spreads and softens the lamp
    over about a texel. The seen radiance, averaged around the lamp's direction, is fitted
    by non-negative least squares (weighted by solid angle) with discs of 4 radii up to a
    lamp radius plus three texels; a disc of radiance s and radius r carries s 2 pi
    (1 - cos r) of irradiance. A bar is matched through a disc of its width at its centre.
    Without ``shape``: the lamp itself, [(diameter, 1)]."""
    from scipy.optimize import nnls

    from .footprint import lamp_footprint

    if shape is None:
        return [(lamp.diameter, 1.0)]
    disc = Lamp("disc", lamp.theta, lamp.alpha, lamp.diameter, 1.0)
    F = lamp_footprint(disc, shape)
    d, e1, e2 = tangent_frame(disc.theta, disc.alpha)
    reach = disc.diameter / 2 + 3 * math.pi / (shape[0] - 1)
    n_rho, n_phi = 120, 96
    rho = (np.arange(n_rho) + 0.5) / n_rho * reach
    phi = (np.arange(n_phi) + 0.5) / n_phi * 2 * math.pi
    R, P = np.meshgrid(rho, phi, indexing="ij")
    dirs = (np.cos(R)[..., None] * d + np.sin(R)[..., None] *
            (np.cos(P)[..., None] * e1 + np.sin(P)[..., None] * e2)).reshape(-1, 3)
    profile = bilinear_lookup(F, dirs)[:, 0].reshape(n_rho, n_phi).mean(axis=1)
    radii = reach * np.arange(1, 5) / 4
    basis = (rho[:, None] <= radii[None, :]).astype(np.float64)
    w = np.sqrt(np.sin(rho))
    s, _ = nnls(basis * w[:, None], profile * w)
    power = s * 2 * np.pi * (1 - np.cos(radii))
    if power.sum() <= 0:
        return [(lamp.diameter, 1.0)]
    seen = float(np.sum(profile * np.sin(rho)) * (reach / n_rho) * 2 * math.pi)
    return [(2 * float(r), float(p) / power.sum() * seen / disc.power)
            for r, p in zip(radii, power) if p > 1e-6 * power.sum()]


def blender_lamps(lamps: list[Lamp], shape: tuple[int, int] | None = None) -> list[dict]:
    """Sun lights for the lamps: name, direction towards the lamp, angle (rad), strength
    (W/m^2 = irradiance) and XYZ Euler rotation (a sun shines along its local -z).

    ``shape``: the texel grid of the rig's map; each lamp is then a few concentric suns
    whose sum is the lamp as a render of that map sees it (``_seen_discs``), so Blender's
    render matches the tool's; without it, one sun of the physical lamp."""
    out = []
    for k, lamp in enumerate(sorted(lamps, key=lambda l: -l.power)):
        discs = _seen_discs(lamp, shape)
        if lamp.kind == "bar":
            n = max(1, int(math.ceil(lamp.length / max(lamp.diameter, 1e-6))))
            d, e1, e2 = tangent_frame(lamp.theta, lamp.alpha)
            t = math.sin(lamp.orientation) * e1 + math.cos(lamp.orientation) * e2
            s = ((np.arange(n) + 0.5) / n - 0.5) * lamp.length
            dirs = [math.cos(abs(v)) * d + math.sin(v) * t for v in s]
        else:
            n, dirs = 1, [lamp.direction]
        for j, d in enumerate(dirs):
            for m, (angle, share) in enumerate(discs):
                name = f"lamp{k + 1}" + (f".{j + 1}" if n > 1 else "") + \
                    (f"-{m + 1}" if len(discs) > 1 else "")
                out.append({"name": name, "direction": [round(float(v), 6) for v in d],
                            "angle": round(float(angle), 6),
                            "strength": float(f"{lamp.power * share / n:.6g}"),
                            "rotation_euler": [round(v, 6) for v in euler_xyz(_pointing(d))]})
    return out


# ---- the script -----------------------------------------------------------------------------

_SCRIPT = '''"""scratchlight's rig in Blender (written for Blender 3.4 and later).

    blender --python blender_rig.py                 # build the scene and look at it
    blender --background --python blender_rig.py -- --render rig_blender.exr --samples 64

Builds the part (surface.ply; scene units, its longer side spans 2), a metal (Principled
BSDF), the camera of scene.xml and the light: "suns" (one Sun light per lamp, angle = the
lamp's angular diameter, strength = its irradiance, on a black world) or "world" (the rig's
map blender_world.exr as the world's Environment Texture, baked for Blender's
equirectangular convention: no mapping node). Directions are in the part frame of the
table (x along the height map's columns, y along its rows, z up).

Options after "--": --world or --suns (the light; default @LIGHTING@), --render FILE (render
with Cycles: .exr linear RGBA float, else PNG with the Standard view), --samples N.
"""
import argparse
import math
import os
import sys

import bpy

HERE = os.path.dirname(os.path.abspath(__file__))
LIGHTING = @LIGHTING_REPR@
LAMPS = @LAMPS@
WORLD_MAP = "blender_world.exr"
WORLD_SAMPLE_MAP = @WORLD_SAMPLE_MAP@     # importance map: 2 x this many columns
CAMERA = @CAMERA@
MATERIAL = @MATERIAL@
MAX_BOUNCES = @MAX_BOUNCES@


def options():
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    p = argparse.ArgumentParser(prog="blender_rig.py")
    p.add_argument("--world", dest="lighting", action="store_const", const="world",
                   help="light the part with the rig's map as the world")
    p.add_argument("--suns", dest="lighting", action="store_const", const="suns",
                   help="light the part with one Sun light per lamp")
    p.add_argument("--render", metavar="FILE", help="render with Cycles to FILE")
    p.add_argument("--samples", type=int, default=64, help="Cycles samples per pixel")
    args = p.parse_known_args(argv)[0]
    args.lighting = args.lighting or LIGHTING
    if args.lighting == "suns" and not LAMPS:
        p.error("this rig has no lamps: use --world")
    return args


def import_part(scene):
    before = set(bpy.data.objects)
    path = os.path.join(HERE, "surface.ply")
    if "ply_import" in dir(bpy.ops.wm):          # Blender 3.6 and later
        bpy.ops.wm.ply_import(filepath=path)
    else:                                         # the Python add-on of Blender <= 3.6
        bpy.ops.import_mesh.ply(filepath=path)
    new = [o for o in bpy.data.objects if o not in before]
    part = new[0] if new else bpy.context.selected_objects[0]
    part.name = "part"
    # Blender 3.4's importer drops the PLY's vertex normals; smooth shading interpolates
    # normals recomputed from the faces, as Mitsuba computed them
    polygons = part.data.polygons
    polygons.foreach_set("use_smooth", [True] * len(polygons))
    mat = bpy.data.materials.new("metal")
    mat.use_nodes = True
    bsdf = mat.node_tree.nodes["Principled BSDF"]
    bsdf.inputs["Base Color"].default_value = (*MATERIAL["base_color"], 1.0)
    bsdf.inputs["Metallic"].default_value = 1.0
    bsdf.inputs["Roughness"].default_value = MATERIAL["roughness"]
    part.data.materials.append(mat)
    return part


def add_suns(scene):
    for lamp in LAMPS:
        light = bpy.data.lights.new(lamp["name"], type="SUN")
        light.energy = lamp["strength"]
        light.angle = lamp["angle"]
        obj = bpy.data.objects.new(lamp["name"], light)
        obj.location = [3.0 * v for v in lamp["direction"]]
        obj.rotation_euler = lamp["rotation_euler"]
        scene.collection.objects.link(obj)


def set_world(scene, lighting):
    world = bpy.data.worlds.new("scratchlight")
    scene.world = world
    world.use_nodes = True
    tree = world.node_tree
    background = tree.nodes["Background"]
    background.inputs["Strength"].default_value = 1.0
    if lighting == "world":
        env = tree.nodes.new("ShaderNodeTexEnvironment")
        env.image = bpy.data.images.load(os.path.join(HERE, WORLD_MAP))
        env.image.colorspace_settings.name = "Non-Color"   # radiance as stored
        env.interpolation = "Linear"
        env.projection = "EQUIRECTANGULAR"
        tree.links.new(env.outputs["Color"], background.inputs["Color"])
        # Blender 3.4's automatic importance map spends seconds on a small map
        world.cycles.sampling_method = "MANUAL"
        world.cycles.sample_map_resolution = WORLD_SAMPLE_MAP
    else:
        background.inputs["Color"].default_value = (0.0, 0.0, 0.0, 1.0)


def add_camera(scene):
    cam = bpy.data.cameras.new("camera")
    cam.sensor_fit = "HORIZONTAL"
    if CAMERA["kind"] == "orthographic":
        cam.type = "ORTHO"
        cam.ortho_scale = 2.0 * CAMERA["ortho_half_width"]
    else:
        cam.type = "PERSP"
        cam.angle = math.radians(CAMERA["fov_deg"])
    obj = bpy.data.objects.new("camera", cam)
    obj.location = CAMERA["origin"]
    obj.rotation_euler = CAMERA["rotation_euler"]
    scene.collection.objects.link(obj)
    scene.camera = obj


def render_settings(scene, samples):
    scene.render.engine = "CYCLES"
    scene.render.resolution_x = CAMERA["width"]
    scene.render.resolution_y = CAMERA["height"]
    scene.render.resolution_percentage = 100
    scene.cycles.samples = samples
    scene.cycles.use_denoising = False
    scene.cycles.pixel_filter_type = "BOX"
    scene.cycles.max_bounces = MAX_BOUNCES
    scene.cycles.glossy_bounces = MAX_BOUNCES
    scene.cycles.diffuse_bounces = MAX_BOUNCES
    scene.view_settings.view_transform = "Standard"


def render(scene, path):
    settings = scene.render.image_settings
    if path.lower().endswith(".exr"):
        settings.file_format = "OPEN_EXR"
        settings.color_mode = "RGBA"
        settings.color_depth = "32"
    else:
        settings.file_format = "PNG"
    scene.render.filepath = os.path.abspath(path)
    bpy.ops.render.render(write_still=True)


def main():
    args = options()
    scene = bpy.context.scene
    for obj in list(bpy.data.objects):
        bpy.data.objects.remove(obj, do_unlink=True)
    import_part(scene)
    if args.lighting == "suns":
        add_suns(scene)
    set_world(scene, args.lighting)
    add_camera(scene)
    render_settings(scene, args.samples)
    if args.render:
        render(scene, args.render)


main()
'''


def blender_script(lamps: list[Lamp] | None, camera: dict, material: str, roughness: float,
                   max_depth: int = 3, world_shape: tuple[int, int] = (100, 200),
                   lamp_shape: tuple[int, int] | None = None) -> str:
    """The text of ``blender_rig.py`` (module docstring): suns for ``lamps`` (matched to how
    a map of ``lamp_shape`` texels renders them, ``blender_lamps``), the world map (of
    ``world_shape``) when ``lamps`` is None (a dome)."""
    fwd, up = np.asarray(camera["forward"]), np.asarray(camera["up"])
    # a Blender camera looks along its local -z with +y up
    R = np.stack([np.cross(fwd, up), up, -fwd], axis=1)
    cam = {k: camera[k] for k in ("kind", "fov_deg", "ortho_half_width", "origin", "width", "height")}
    cam["rotation_euler"] = [round(v, 6) for v in euler_xyz(R)]
    mat = {"base_color": _BASE_COLOR.get(material, (0.9, 0.9, 0.9)),
           "roughness": round(math.sqrt(max(roughness, 0.0)), 6)}
    lighting = "world" if lamps is None else "suns"
    fill = {"@LIGHTING@": lighting, "@LIGHTING_REPR@": repr(lighting),
            "@LAMPS@": pprint.pformat(blender_lamps(lamps or [], lamp_shape), sort_dicts=False),
            "@CAMERA@": pprint.pformat(cam, sort_dicts=False),
            "@MATERIAL@": pprint.pformat(mat, sort_dicts=False),
            "@MAX_BOUNCES@": str(max(int(max_depth) - 2, 0)),
            "@WORLD_SAMPLE_MAP@": str(max(256, int(world_shape[1]) // 2))}
    text = _SCRIPT
    for key, value in fill.items():
        text = text.replace(key, value)
    return text


def write_blender_files(out_dir: str, lamps: list[Lamp] | None, footprint: np.ndarray,
                        camera: dict, material: str, roughness: float,
                        max_depth: int = 3) -> list[str]:
    """Write ``blender_rig.py`` and ``blender_world.exr`` (atomically); returns their names.
    ``lamps`` None: a dome, lit by the world map only."""
    from ..io import write_exr

    world = bake_blender_world(footprint)
    write_exr(os.path.join(out_dir, "blender_world.exr"), world)
    with atomic_path(os.path.join(out_dir, "blender_rig.py"), suffix=".py") as tmp:
        with open(tmp, "w") as f:
            f.write(blender_script(lamps, camera, material, roughness, max_depth, world.shape[:2],
                                   lamp_shape=np.shape(footprint)[:2]))
    return ["blender_rig.py", "blender_world.exr"]
