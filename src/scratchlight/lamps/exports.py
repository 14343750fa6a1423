"""Scene files of a rig: a Mitsuba 3 scene XML and a Blender Python script.

``write_mitsuba_scene`` writes ``scene.xml`` with the part (``surface.ply``, the very mesh
scratchlight renders, with its vertex normals), the metal, the camera (its exact
to_world matrix, field of view, box pixel filter) and the rig as an ``envmap`` emitter
reading ``rig_envmap.exr``: the rig's footprint on the optimized light's texel grid, in
the emitter frame of ``scene.envmap`` (rotated 90 degrees about x). Mitsuba renders it as
T x footprint up to Monte Carlo noise (tested). Load it with ``mitsuba.load_file``.

``write_blender_script`` writes ``blender_rig.py`` (run ``blender --python blender_rig.py``):
it imports the same mesh, a metal material (Principled BSDF, roughness sqrt(alpha)), the
camera, and each lamp as a Sun light of the lamp's angular diameter whose strength is the
lamp's irradiance (a bar becomes a row of suns along its axis), on a black world. Blender's
sun lamps are the physical lamps themselves, not their texel footprints, and its metal is
an approximation, so its render is close to, not equal to, Mitsuba's.
"""
from __future__ import annotations

import math
import os
import pprint

import numpy as np

from ..io.atomic import atomic_path
from ..scene.envmap import EMITTER_ROTATION_AXIS, EMITTER_ROTATION_DEG
from ..scene.materials import conductor_bsdf
from .geometry import Lamp, tangent_frame

__all__ = ["write_mesh", "mitsuba_scene_xml", "write_mitsuba_scene", "blender_lamps",
           "euler_xyz", "blender_script", "write_blender_script"]

# Linear RGB base colours of the metals for Blender's Principled BSDF (approximate).
_BASE_COLOR = {"aluminium": (0.913, 0.922, 0.924), "steel": (0.562, 0.565, 0.578),
               "copper": (0.955, 0.638, 0.538), "chrome": (0.550, 0.556, 0.554)}


def write_mesh(scene, path: str) -> None:
    """The scene's height-map mesh as a binary PLY with vertex normals (atomically)."""
    mesh = [s for s in scene.mitsuba_scene.shapes() if s.is_mesh()][0]
    with atomic_path(path, suffix=".ply") as tmp:
        mesh.write_ply(tmp)


def _bsdf_xml(material: str, roughness: float) -> str:
    d = conductor_bsdf(material, roughness)
    lines = [f'<bsdf type="{d["type"]}">']
    if "distribution" in d:
        lines.append(f'    <string name="distribution" value="{d["distribution"]}"/>')
        lines.append(f'    <float name="alpha" value="{d["alpha"]:.9g}"/>')
    if "material" in d:
        lines.append(f'    <string name="material" value="{d["material"]}"/>')
    for key in ("eta", "k"):
        if key in d:
            lines.append(f'    <rgb name="{key}" value="{", ".join(f"{v:g}" for v in d[key]["value"])}"/>')
    return "\n        ".join(lines) + "\n        </bsdf>"


def mitsuba_scene_xml(scene, camera: dict, spp: int, mesh_file: str = "surface.ply",
                      envmap_file: str = "rig_envmap.exr", comment: str = "") -> str:
    """The text of the scene XML (module docstring); file names relative to the XML."""
    spec = scene.spec
    matrix = " ".join(f"{v:.9g}" for v in np.asarray(camera["to_world"]).ravel())
    if camera["kind"] == "perspective":
        sensor = (f'<sensor type="perspective">\n        <float name="fov" value="{camera["fov_deg"]:.9g}"/>\n'
                  f'        <string name="fov_axis" value="x"/>')
    else:
        sensor = '<sensor type="orthographic">'
    ax = EMITTER_ROTATION_AXIS
    note = "".join(f"\n    <!-- {line} -->" for line in comment.splitlines() if line)
    return f"""<?xml version="1.0" encoding="utf-8"?>
<scene version="3.0.0">{note}
    <integrator type="path">
        <integer name="max_depth" value="{int(spec.max_depth)}"/>
    </integrator>
    {sensor}
        <transform name="to_world">
            <matrix value="{matrix}"/>
        </transform>
        <sampler type="independent">
            <integer name="sample_count" value="{int(spp)}"/>
        </sampler>
        <film type="hdrfilm">
            <integer name="width" value="{int(spec.width)}"/>
            <integer name="height" value="{int(spec.height)}"/>
            <string name="pixel_format" value="rgb"/>
            <rfilter type="box"/>
        </film>
    </sensor>
    <shape type="ply">
        <string name="filename" value="{mesh_file}"/>
        {_bsdf_xml(spec.material, spec.roughness)}
    </shape>
    <emitter type="envmap">
        <string name="filename" value="{envmap_file}"/>
        <transform name="to_world">
            <rotate x="{ax[0]}" y="{ax[1]}" z="{ax[2]}" angle="{EMITTER_ROTATION_DEG:g}"/>
        </transform>
    </emitter>
</scene>
"""


def write_mitsuba_scene(out_dir: str, scene, camera: dict, footprint: np.ndarray, spp: int,
                        comment: str = "") -> list[str]:
    """Write ``scene.xml``, ``surface.ply`` and ``rig_envmap.exr``; returns their names."""
    from ..io import write_exr

    write_mesh(scene, os.path.join(out_dir, "surface.ply"))
    write_exr(os.path.join(out_dir, "rig_envmap.exr"), np.asarray(footprint, np.float32))
    with atomic_path(os.path.join(out_dir, "scene.xml"), suffix=".xml") as tmp:
        with open(tmp, "w") as f:
            f.write(mitsuba_scene_xml(scene, camera, spp, comment=comment))
    return ["scene.xml", "surface.ply", "rig_envmap.exr"]


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


def blender_lamps(lamps: list[Lamp]) -> list[dict]:
    """Sun lights for the lamps: name, direction towards the lamp, angle (rad), strength
    (W/m^2 = irradiance) and XYZ Euler rotation (a sun shines along its local -z)."""
    out = []
    for k, lamp in enumerate(sorted(lamps, key=lambda l: -l.power)):
        if lamp.kind == "bar":
            n = max(1, int(math.ceil(lamp.length / max(lamp.diameter, 1e-6))))
            d, e1, e2 = tangent_frame(lamp.theta, lamp.alpha)
            t = math.sin(lamp.orientation) * e1 + math.cos(lamp.orientation) * e2
            s = ((np.arange(n) + 0.5) / n - 0.5) * lamp.length
            dirs = [math.cos(abs(v)) * d + math.sin(v) * t for v in s]
            angle = lamp.diameter
        else:
            n, dirs, angle = 1, [lamp.direction], lamp.diameter
        for j, d in enumerate(dirs):
            name = f"lamp{k + 1}" + (f".{j + 1}" if n > 1 else "")
            out.append({"name": name, "direction": [round(float(v), 6) for v in d],
                        "angle": round(float(angle), 6), "strength": float(f"{lamp.power / n:.6g}"),
                        "rotation_euler": [round(v, 6) for v in euler_xyz(_pointing(d))]})
    return out


_SCRIPT = '''"""Build the lamp rig of scratchlight in Blender: blender --python blender_rig.py

The part (surface.ply, scene units: its longer side spans 2), a metal material, the camera
and one Sun light per lamp (angle = the lamp's angular diameter, strength = its irradiance,
relative units), on a black world. Directions are in the part frame of lamps.csv.
"""
import math
import os

import bpy

HERE = os.path.dirname(os.path.abspath(__file__))
LAMPS = {lamps}
CAMERA = {camera}
MATERIAL = {material}

scene = bpy.context.scene
for obj in list(bpy.data.objects):
    bpy.data.objects.remove(obj, do_unlink=True)

path = os.path.join(HERE, "surface.ply")
if hasattr(bpy.ops.wm, "ply_import"):
    bpy.ops.wm.ply_import(filepath=path)
else:
    bpy.ops.import_mesh.ply(filepath=path)
part = bpy.context.selected_objects[0]
part.name = "part"
mat = bpy.data.materials.new("metal")
mat.use_nodes = True
bsdf = mat.node_tree.nodes["Principled BSDF"]
bsdf.inputs["Base Color"].default_value = (*MATERIAL["base_color"], 1.0)
bsdf.inputs["Metallic"].default_value = 1.0
bsdf.inputs["Roughness"].default_value = MATERIAL["roughness"]
part.data.materials.append(mat)

for lamp in LAMPS:
    light = bpy.data.lights.new(lamp["name"], type="SUN")
    light.energy = lamp["strength"]
    light.angle = lamp["angle"]
    obj = bpy.data.objects.new(lamp["name"], light)
    obj.location = [3.0 * v for v in lamp["direction"]]
    obj.rotation_euler = lamp["rotation_euler"]
    scene.collection.objects.link(obj)

cam = bpy.data.cameras.new("camera")
if CAMERA["kind"] == "orthographic":
    cam.type = "ORTHO"
    cam.ortho_scale = 2.0 * CAMERA["ortho_half_width"]
else:
    cam.type = "PERSP"
    cam.sensor_fit = "HORIZONTAL"
    cam.angle = math.radians(CAMERA["fov_deg"])
cam_obj = bpy.data.objects.new("camera", cam)
cam_obj.location = CAMERA["origin"]
cam_obj.rotation_euler = CAMERA["rotation_euler"]
scene.collection.objects.link(cam_obj)
scene.camera = cam_obj
scene.render.resolution_x = CAMERA["width"]
scene.render.resolution_y = CAMERA["height"]
scene.render.engine = "CYCLES"
world = scene.world or bpy.data.worlds.new("world")
scene.world = world
world.use_nodes = True
world.node_tree.nodes["Background"].inputs["Color"].default_value = (0.0, 0.0, 0.0, 1.0)
'''


def blender_script(lamps: list[Lamp], camera: dict, material: str, roughness: float) -> str:
    """The text of ``blender_rig.py`` (module docstring)."""
    fwd, up = np.asarray(camera["forward"]), np.asarray(camera["up"])
    # a Blender camera looks along its local -z with +y up
    R = np.stack([np.cross(fwd, up), up, -fwd], axis=1)
    cam = {k: camera[k] for k in ("kind", "fov_deg", "ortho_half_width", "origin", "width", "height")}
    cam["rotation_euler"] = [round(v, 6) for v in euler_xyz(R)]
    mat = {"base_color": _BASE_COLOR.get(material, (0.9, 0.9, 0.9)),
           "roughness": round(math.sqrt(max(roughness, 0.0)), 6)}
    return _SCRIPT.format(lamps=pprint.pformat(blender_lamps(lamps), sort_dicts=False),
                          camera=pprint.pformat(cam, sort_dicts=False),
                          material=pprint.pformat(mat, sort_dicts=False))


def write_blender_script(out_dir: str, lamps: list[Lamp], camera: dict, material: str,
                         roughness: float) -> str:
    with atomic_path(os.path.join(out_dir, "blender_rig.py"), suffix=".py") as tmp:
        with open(tmp, "w") as f:
            f.write(blender_script(lamps, camera, material, roughness))
    return "blender_rig.py"
