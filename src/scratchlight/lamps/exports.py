"""Scene files of a rig: a Mitsuba 3 scene XML (the Blender files: ``blender.py``).

``write_mitsuba_scene`` writes ``scene.xml`` with the part (``surface.ply``, the very mesh
scratchlight renders, with its vertex normals), the metal, the camera (its exact
to_world matrix, field of view, box pixel filter) and the rig as an ``envmap`` emitter
reading ``rig_envmap.exr``: the rig's footprint on the optimized light's texel grid, in
the emitter frame of ``scene.envmap`` (rotated 90 degrees about x). Mitsuba renders it as
T x footprint up to Monte Carlo noise (tested). Load it with ``mitsuba.load_file``.

The Blender files (``blender_rig.py``, ``blender_world.exr``) are written by ``blender.py``.
"""
from __future__ import annotations

import os

import numpy as np

from ..io.atomic import atomic_path
from ..scene.envmap import EMITTER_ROTATION_AXIS, EMITTER_ROTATION_DEG
from ..scene.materials import conductor_bsdf

__all__ = ["write_mesh", "mitsuba_scene_xml", "write_mitsuba_scene"]


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
