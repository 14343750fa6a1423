"""Stage 3 — the Mitsuba scene: mesh, metal, camera, environment emitter, image masks."""
from .build import ENVMAP_KEY, Scene, SceneSpec, build_scene
from .camera import CAMERA_PRESETS, CameraSpec
from .emitter import envmap_dict
from .envmap import DEFAULT_ENVMAP_SHAPE, constant_envmap, expand_envmap, studio_envmap
from .materials import MATERIALS, conductor_bsdf
from .mesh import heightmap_faces, heightmap_to_mesh, heightmap_vertices, units_per_metre

__all__ = [
    "ENVMAP_KEY", "Scene", "SceneSpec", "build_scene", "CAMERA_PRESETS", "CameraSpec",
    "DEFAULT_ENVMAP_SHAPE", "constant_envmap", "envmap_dict", "expand_envmap", "MATERIALS",
    "conductor_bsdf", "heightmap_faces", "heightmap_to_mesh", "heightmap_vertices",
    "studio_envmap", "units_per_metre",
]
