"""Render a rig's ``blender_rig.py`` in Blender and compare it with Mitsuba's ``rig.exr``.

    python -m scratchlight.lamps.blender_check rig/ [--world] [--samples 32]

Blender and Mitsuba share the mesh, the camera and the light's directions but not the metal
(Principled BSDF against a rough conductor), so only the pattern (where the part is bright)
can agree. ``check_orientation`` runs Blender in the background on the folder's script
(suns, or the world map with ``world=True``) and renders it as exported and with the light
transformed (mirrored across the xz or yz plane, rotated about the part's normal by +-90 and
180 degrees: ``VARIANTS``); each render's luminance is correlated (Pearson, over the pixels
the part covers, after dividing each image by its mean) with the luminance of the reference
Mitsuba render. A right orientation correlates clearly positively and clearly better than
every transformed light.

The transforms are applied inside Blender by a second script run after the rig's: a Sun
light's direction d becomes R d, the world is looked up at R^T d (three dot products feeding
the Environment Texture's vector: the light from d moves to R d).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

__all__ = ["VARIANTS", "find_blender", "render_variants", "pattern_correlation",
           "check_orientation", "main"]


def _rot_z(deg: float) -> list[list[float]]:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]


VARIANTS = {
    "as exported": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
    "mirrored x": [[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
    "mirrored y": [[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]],
    "rotated +90": _rot_z(90.0),
    "rotated -90": _rot_z(-90.0),
    "rotated 180": _rot_z(180.0),
}

# Run inside Blender after blender_rig.py: render the scene once per variant.
_VARIANT_SCRIPT = '''
import json
import sys

import bpy
from mathutils import Matrix, Vector

argv = sys.argv[sys.argv.index("--") + 1:]
job = json.loads(argv[argv.index("--variants") + 1])
scene = bpy.context.scene
scene.cycles.samples = job["samples"]
scene.cycles.seed = job["seed"]
scene.render.film_transparent = True
settings = scene.render.image_settings
settings.file_format, settings.color_mode, settings.color_depth = "OPEN_EXR", "RGBA", "32"
suns = [(o, o.rotation_euler.to_matrix().col[2].normalized(), o.rotation_euler.copy())
        for o in scene.objects if o.type == "LIGHT" and o.data.type == "SUN"]
tree = scene.world.node_tree
env = [n for n in tree.nodes if n.type == "TEX_ENVIRONMENT"]
rows = []
if env:
    coords = tree.nodes.new("ShaderNodeTexCoord")
    combine = tree.nodes.new("ShaderNodeCombineXYZ")
    for k in range(3):
        dot = tree.nodes.new("ShaderNodeVectorMath")
        dot.operation = "DOT_PRODUCT"
        tree.links.new(coords.outputs["Generated"], dot.inputs[0])
        tree.links.new(dot.outputs["Value"], combine.inputs[k])
        rows.append(dot)
for name, R in job["variants"].items():
    R = Matrix(R)
    for obj, d, euler in suns:
        exported = name == "as exported"
        obj.rotation_euler = euler if exported else (R @ d).to_track_quat("Z", "Y").to_euler()
    if env:
        link = [l for l in tree.links if l.to_node == env[0] and l.to_socket.name == "Vector"]
        if name == "as exported":
            for l in link:
                tree.links.remove(l)
        else:
            RT = R.transposed()     # the light from d moves to R d: look up at R^T d
            for k, dot in enumerate(rows):
                dot.inputs[1].default_value = Vector(RT[k])
            if not link:
                tree.links.new(combine.outputs["Vector"], env[0].inputs["Vector"])
    scene.render.filepath = job["files"][name]
    bpy.ops.render.render(write_still=True)
for obj, _, euler in suns:
    obj.rotation_euler = euler
'''


def find_blender(blender: str | None = None) -> str | None:
    """The Blender executable: ``blender`` if given, else $BLENDER, else ``blender`` on PATH."""
    return shutil.which(blender or os.environ.get("BLENDER") or "blender")


def _read_rgba(path: str) -> np.ndarray:
    from ..io.images import read_exr

    return read_exr(path).astype(np.float64)


def render_variants(folder: str, out_dir: str, world: bool = False, samples: int = 32,
                    variants: dict | None = None, seed: int = 0, blender: str | None = None,
                    threads: int = 0, timeout: float = 600.0) -> dict[str, str]:
    """Render ``folder/blender_rig.py`` once per variant (name -> 3 x 3 matrix, default
    ``VARIANTS``) into ``out_dir`` as linear RGBA EXR; returns name -> file."""
    exe = find_blender(blender)
    if exe is None:
        raise FileNotFoundError("blender is not on PATH (or set $BLENDER)")
    variants = VARIANTS if variants is None else variants
    os.makedirs(out_dir, exist_ok=True)
    files = {name: os.path.join(os.path.abspath(out_dir), f"blender_{i}.exr")
             for i, name in enumerate(variants)}
    script = os.path.join(os.path.abspath(out_dir), "blender_variants.py")
    with open(script, "w") as f:
        f.write(_VARIANT_SCRIPT)
    job = {"samples": int(samples), "seed": int(seed), "files": files,
           "variants": {k: [list(map(float, r)) for r in v] for k, v in variants.items()}}
    cmd = [exe, "--background", "--factory-startup", "--threads", str(int(threads)),
           "--python-exit-code", "1",
           "--python", os.path.join(os.path.abspath(folder), "blender_rig.py"),
           "--python", script,
           "--", *(["--world"] if world else []), "--samples", str(int(samples)),
           "--variants", json.dumps(job)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    missing = [f for f in files.values() if not os.path.isfile(f)]
    if proc.returncode != 0 or missing:
        raise RuntimeError(f"Blender failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}"
                           f"\n{proc.stderr[-3000:]}")
    return files


def _luminance(img: np.ndarray) -> np.ndarray:
    if img.shape[2] >= 3:
        return 0.2126 * img[..., 0] + 0.7152 * img[..., 1] + 0.0722 * img[..., 2]
    return img[..., 0]


def pattern_correlation(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Pearson correlation of two luminance images over ``mask``, each divided by its mean."""
    x, y = a[mask], b[mask]
    x, y = x / max(x.mean(), 1e-12), y / max(y.mean(), 1e-12)
    x, y = x - x.mean(), y - y.mean()
    return float(np.dot(x, y) / max(np.sqrt(np.dot(x, x) * np.dot(y, y)), 1e-300))


def check_orientation(folder: str, reference: str | np.ndarray | None = None,
                      world: bool = False, samples: int = 32, variants: dict | None = None,
                      keep: str | None = None, **kw) -> dict:
    """Render the folder's rig in Blender (as exported and transformed) and correlate each
    render with the Mitsuba ``reference`` (default ``folder/rig.exr``; or an image array).

    Returns {"correlation": name -> r, "margin": r(as exported) - the best other r,
    "mean_ratio": mean Blender / mean Mitsuba luminance over the part (as exported),
    "pixels": the part's pixel count}."""
    if reference is None:
        reference = os.path.join(folder, "rig.exr")
    ref = _read_rgba(reference) if isinstance(reference, str) else np.asarray(reference, np.float64)
    ref = _luminance(ref if ref.ndim == 3 else ref[..., None])
    with tempfile.TemporaryDirectory() as tmp:
        files = render_variants(folder, keep or tmp, world=world, samples=samples,
                                variants=variants, **kw)
        images = {name: _read_rgba(path) for name, path in files.items()}
    first = images["as exported"]
    if first.shape[:2] != ref.shape:
        raise ValueError(f"Blender rendered {first.shape[:2]}, the reference is {ref.shape}")
    mask = first[..., 3] > 0.999 if first.shape[2] == 4 else np.ones(ref.shape, bool)
    corr = {name: pattern_correlation(_luminance(img), ref, mask) for name, img in images.items()}
    others = [r for name, r in corr.items() if name != "as exported"]
    return {"correlation": corr,
            "margin": corr["as exported"] - max(others) if others else float("nan"),
            "mean_ratio": float(_luminance(first)[mask].mean() / max(ref[mask].mean(), 1e-12)),
            "pixels": int(mask.sum())}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m scratchlight.lamps.blender_check",
                                description="render a lamps folder's blender_rig.py and "
                                            "correlate it with its rig.exr, also with the "
                                            "light mirrored and rotated")
    p.add_argument("folder", help="a results folder of 'scratchlight lamps'")
    p.add_argument("--world", action="store_true", help="light with the world map, not suns")
    p.add_argument("--samples", type=int, default=32)
    p.add_argument("--reference", help="Mitsuba render to compare with (default FOLDER/rig.exr)")
    p.add_argument("--keep", metavar="DIR", help="keep Blender's renders in DIR")
    p.add_argument("--blender", help="the Blender executable (default: blender on PATH)")
    a = p.parse_args(argv)
    res = check_orientation(a.folder, a.reference, world=a.world, samples=a.samples,
                            keep=a.keep, blender=a.blender)
    for name, r in res["correlation"].items():
        print(f"{name:>12}: r = {r:+.3f}")
    print(f"margin {res['margin']:+.3f}, Blender/Mitsuba mean luminance {res['mean_ratio']:.3f}, "
          f"{res['pixels']} pixels")
    return 0


if __name__ == "__main__":
    sys.exit(main())
