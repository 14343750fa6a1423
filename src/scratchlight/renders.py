"""Rendering a given light on a surface: the configs and runs of render, relight, evaluate.

Each command has one nested config (surface, scene, light, and its own settings), saved
with its output so that ``scratchlight <command> --config FILE`` repeats it. The work goes
through a :class:`~scratchlight.session.Session`, like every other front end.
"""
from __future__ import annotations

import dataclasses
import sys
import time

import numpy as np

from .errors import InputError
from .options import check_declared, config_from_options, option, option_table
from .scene import SceneSpec
from .surface import SurfaceConfig

__all__ = ["LightSource", "RenderConfig", "RelightConfig", "EvaluateConfig", "render_light",
           "relight_light", "relight_engine", "evaluate_light", "RENDER_OPTION_FIELDS", "run_json_path",
           "save_render", "save_relight", "save_evaluation"]


def _scene_512() -> SceneSpec:
    return SceneSpec(exaggeration="auto")


@dataclasses.dataclass
class LightSource:
    """A given light: an environment-map file, or a uniform radiance."""

    envmap: str | None = option(None, "lat-long environment map (.exr .hdr .png)", path=True)
    """Lat-long environment map (.exr .hdr .png), linear radiance; row 0 is the zenith."""
    constant: float | None = option(None, "uniform light of this radiance", lo=0.0)
    """Uniform light of this radiance (used when ``envmap`` is None)."""
    size: tuple[int, int] = option((25, 50), "texels (rows x columns) of the constant light",
                                   sep="x", cli=False)
    """Texels (rows, columns) of the constant light."""

    def envmap_array(self) -> np.ndarray:
        """(H, W, 3) float32 linear radiance."""
        from .io import read_envmap
        from .scene import constant_envmap

        if self.envmap:
            return read_envmap(self.envmap)
        c = self.constant
        if c is None or not np.isfinite(c) or c < 0:
            raise InputError("light.constant", f"must be a finite value >= 0, got {c}")
        return constant_envmap(c, tuple(self.size), channels=3)


@dataclasses.dataclass
class RenderConfig:
    """``scratchlight render``: one Mitsuba render of a surface under a light."""

    surface: SurfaceConfig = dataclasses.field(default_factory=SurfaceConfig)
    """The height-map file and how it is prepared."""
    scene: SceneSpec = dataclasses.field(default_factory=_scene_512)
    """Metal, exaggeration, camera, image size and path depth."""
    light: LightSource = dataclasses.field(default_factory=LightSource)
    """The light."""
    spp: int = option(64, "samples per pixel", lo=1, hi=65536)
    """Samples per pixel (rendered in passes of 16)."""
    seed: int = option(0, "random seed", lo=0, hi=2 ** 31 - 1)
    """Seed of the render."""
    device: str = option("auto", "cuda when a GPU is usable (auto), else cpu",
                         choices=("auto", "cpu", "cuda"))
    """auto, cpu or cuda."""

    def validate(self) -> None:
        """Raise InputError naming the dotted field of the first value outside its declared
        choices or bounds (``spp``, ``scene.roughness``, ...)."""
        check_declared(self)

    @classmethod
    def from_options(cls, **options):
        """A config from flat options, named like the command's flags without dashes
        (``heightmap``, ``resolution``, ``material``, ``envmap``, ``constant``, ``spp``,
        ``seeds``, ...: ``options.option_table(cls)``), the rest at their defaults. Values
        may be typed or text (``resolution`` an int, (width, height) or ``"WxH"``)."""
        return config_from_options(cls, options)


@dataclasses.dataclass
class RelightConfig(RenderConfig):
    """``scratchlight relight``: the image T E through the cached light-transport matrix."""

    cache_dir: str | None = option(None, "folder of cached matrices (default "
                                         "$SCRATCHLIGHT_CACHE/transport or "
                                         "~/.cache/scratchlight/transport)", path=True)
    """Folder of cached matrices (None: $SCRATCHLIGHT_CACHE/transport or ~/.cache/...)."""
    use_cache: bool = option(True, "build T without reading or writing the cache",
                             negate="no_cache")
    """Read and write the cache (False builds T afresh and keeps it in memory only)."""
    repeat: int = option(10, "relight this many times to time one relight", lo=1, hi=100_000)
    """Relight this many times to time one relight."""
    engine: str = option("auto", "auto: T when it fits the memory budget, else one Mitsuba "
                                 "render; transport: always T; ad: always a render",
                         choices=("auto", "transport", "ad"))
    """auto: T when it fits ``memory_budget_gib`` (``engines.choice``), else a Mitsuba render
    at ``spp``; transport: always T; ad: always a Mitsuba render."""
    memory_budget_gib: float | None = option(
        None, "engine auto: memory T may take, GiB (default a quarter of the machine's)",
        flag="--memory-budget", metavar="GIB", lo=0.0, lo_open=True)
    """engine 'auto': the memory (GiB) T may take; None for a quarter of the machine's."""


@dataclasses.dataclass
class EvaluateConfig(RenderConfig):
    """``scratchlight evaluate``: visibility metrics over independent high-spp renders."""

    spp: int = option(256, "samples per pixel of each render", lo=1, hi=65536)
    """Samples per pixel of each render."""
    seeds: int = option(4, "number of independent renders (seeds SEED .. SEED+N-1)", lo=1,
                        hi=1024)
    """Number of independent renders (seeds ``seed .. seed+seeds-1``)."""
    truth: str | None = option(None, "defect mask image in height-map coordinates (white = "
                                     "defect), the size of the height-map grid",
                               metavar="MASK.png", path=True)
    """Defect mask image in height-map coordinates (white = defect), or None."""
    truth_from_file: bool = option(False, "use the height map file's own 'truth' mask (as "
                                   "written by scratchlight synth); an error if it has none. "
                                   "Without --truth the file's mask is used when present")
    """Require the height-map file's own 'truth' mask (an error if it has none)."""
    weber_threshold: float = option(0.02, "Weber contrast a defect needs to count as seen",
                                    lo=0.0, lo_open=True)
    """Weber contrast a defect needs to count as seen."""
    guard: int = option(2, "pixels around defects that count for neither side", lo=0, hi=1024)
    """Pixels around defects that count for neither side."""
    twin: str | None = option(None, "the same surface without its defects (scratchlight synth "
                                    "--twin): adds the detectability index d' of two model "
                                    "observers", metavar="HEIGHTMAP", path=True)
    """The same surface without its defects (``scratchlight synth --twin``): rendered with
    the same seeds, it gives the model observers' detectability index d'."""
    window: int = option(16, "side of the observers' window, pixels", lo=4, hi=4096)
    """Side of the observers' square window, pixels."""
    viewing_distance_m: float = option(0.5, "perceived contrast: eye to display, metres",
                                       flag="--viewing-distance", metavar="M", lo=0.0,
                                       lo_open=True)
    """Perceived contrast: distance from eye to display, metres."""
    pixel_pitch_m: float = option(0.25e-3, "perceived contrast: display pixel pitch, "
                                  "millimetres", flag="--pixel-pitch", metavar="MM",
                                  flag_scale=1e-3, lo=0.0, lo_open=True)
    """Perceived contrast: display pixel pitch, metres (0.25 mm is about 100 dpi)."""

    def validate(self) -> None:
        super().validate()
        if self.twin is not None and self.seeds < 2:
            raise InputError("seeds", "the detectability index needs at least 2 seeds")


RENDER_OPTION_FIELDS: dict[str, str] = {
    name: e.field for name, e in option_table(RenderConfig).items()
    if e.field.split(".")[0] in ("surface", "scene", "light")}
"""Flat option (the flag without dashes) -> dotted field of a RenderConfig, for the surface,
scene and light, derived from the declarations; the configs' own fields (``spp``, ``seed``,
``seeds``, ...) are options too (``options.option_table``)."""


def _session(cfg: RenderConfig, before_prepare=None, progress: bool = True):
    from .session import Session

    cfg.validate()
    light = cfg.light.envmap_array()  # a bad light file fails before the scene is built
    return Session(cfg.surface, cfg.scene, device=cfg.device, before_prepare=before_prepare,
                   progress=progress, envmap=light), light


def render_light(cfg: RenderConfig, progress: bool = True):
    """Render ``cfg``; returns ``(image (h, w, 3) linear float32, session, seconds)``."""
    t0 = time.perf_counter()
    session, light = _session(cfg, progress=progress)
    image = session.render_final(light, cfg.spp, seed=cfg.seed)
    return image, session, time.perf_counter() - t0


def relight_light(cfg: RelightConfig, progress: bool = True):
    """Relight through T (or a render, see ``RelightConfig.engine``); returns ``(image,
    engine, ready_s, relight_times_s, choice)``: the engine, the seconds until scene and
    engine were ready, each relight's seconds, and the ``EngineChoice`` of 'auto' (or None).
    """
    t0 = time.perf_counter()
    session, light = _session(cfg, progress=progress)
    engine, choice = relight_engine(session, cfg, progress)
    ready = time.perf_counter() - t0
    times = []
    for _ in range(cfg.repeat if engine.name == "transport" else 1):
        t1 = time.perf_counter()
        image = engine.relight(light) if engine.name == "transport" else \
            engine.render(light, seed=cfg.seed)
        times.append(time.perf_counter() - t1)
    return image, engine, ready, times, choice


def relight_engine(session, cfg: RelightConfig, progress: bool = True):
    """The engine of ``cfg`` (``RelightConfig.engine``) from the session's pool, for lights
    of the session's texel grid: one transport matrix of ``cfg.spp`` paths (no
    decorrelation: relighting needs no gradient), or an AD engine. Returns ``(engine,
    EngineChoice of 'auto' or None)``."""
    cache = cfg.cache_dir if cfg.use_cache else False
    options = {"cache_dir": cache, "decorrelate": False}
    name, choice = cfg.engine, None
    if name == "auto":
        budget = None if cfg.memory_budget_gib is None else int(cfg.memory_budget_gib * 2 ** 30)
        choice = session.choose_engine(cfg.spp, cfg.seed, budget_bytes=budget, **options)
        name = choice.engine
        if progress:
            print(choice.summary(), file=sys.stderr, flush=True)
    label = "transport matrix" if progress else False
    engine = session.engine(name, cfg.spp, cfg.seed, progress=label, **options)
    return engine, choice


def evaluate_light(cfg: EvaluateConfig, progress: bool = True):
    """Metrics of ``cfg``; returns ``(report dict, mean image, session)``."""
    from .io import read_png_mask

    source = []

    def attach_truth(hm):
        if cfg.truth:
            mask = read_png_mask(cfg.truth)
            if mask.shape != hm.shape:
                raise InputError(cfg.truth, f"mask of {mask.shape[1]} x {mask.shape[0]} pixels "
                                            f"does not match the {hm.shape[1]} x {hm.shape[0]} "
                                            f"height-map grid")
            source.append(cfg.truth)
            return hm.replace(truth=mask)
        if hm.truth is not None:
            source.append("heightmap file")
        elif cfg.truth_from_file:
            raise InputError(cfg.surface.path, "has no ground-truth 'truth' mask (--truth-from-file)")
        return hm

    t0 = time.perf_counter()
    session, light = _session(cfg, before_prepare=attach_truth, progress=progress)
    hm = session.heightmap
    truth = None if hm.truth is None else session.scene.cell_mask_to_image(hm.truth) & session.object_mask
    metrics, images = session.evaluate(light, seeds=cfg.seeds, spp=cfg.spp, seed=cfg.seed,
                                       truth=truth, guard=cfg.guard, threshold=cfg.weber_threshold)
    perceived = _perceived_over_seeds(images, session.object_mask, truth, cfg)
    detect = None
    if cfg.twin is not None:
        detect = _detectability(cfg, session, light, images, truth)
    spec = session.scene.spec
    report = {
        "heightmap": cfg.surface.path,
        "light": {"envmap": cfg.light.envmap} if cfg.light.envmap else {"constant": cfg.light.constant},
        "truth": source[0] if source else None,
        "grid": [int(hm.shape[1]), int(hm.shape[0])],
        "resolution": [spec.width, spec.height],
        "spp": cfg.spp,
        "seeds": [cfg.seed + k for k in range(cfg.seeds)],
        "scene": {"material": spec.material, "roughness": spec.roughness,
                  "exaggeration": spec.exaggeration, "camera": spec.camera.preset,
                  "elevation_deg": spec.camera.elevation_deg,
                  "azimuth_deg": spec.camera.azimuth_deg, "fov_deg": spec.camera.fov_deg,
                  "max_depth": spec.max_depth},
        "device": session.variant,
        "surface_pixels": int(session.object_mask.sum()),
        "defect_pixels": None if truth is None else int(truth.sum()),
        "metric_options": {"weber_threshold": cfg.weber_threshold, "guard": cfg.guard,
                           "gradient_sigma_px": 1.0, "contrast_sigma_px": 3.0, "ring_px": 4,
                           "min_defect_pixels": 5, "black_level": 1e-3,
                           "display_black_level": 0.01,
                           "observer_window_px": cfg.window,
                           "viewing_distance_m": cfg.viewing_distance_m,
                           "pixel_pitch_m": cfg.pixel_pitch_m},
        "metrics": metrics,
        "perceived": perceived,
        "detectability": detect,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    return report, np.mean(images, axis=0), session


def _perceived_over_seeds(images, mask, truth, cfg: EvaluateConfig) -> dict:
    """The perceived-contrast metrics of every render, as mean / stderr / values."""
    from .report.perception import perceived_metrics

    per = [perceived_metrics(im, mask, truth, cfg.viewing_distance_m, cfg.pixel_pitch_m,
                             guard=cfg.guard) for im in images]
    out = {}
    for name in per[0]:
        v = np.array([p[name] for p in per], np.float64)
        out[name] = {"mean": float(v.mean()),
                     "stderr": float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else float("nan"),
                     "values": [float(x) for x in v]}
    return out


def _detectability(cfg: EvaluateConfig, session, light, images, truth) -> dict:
    """Render the defect-free twin with the same seeds, scene and exaggeration; d' of the
    model observers (``report.detectability``)."""
    from .report.detectability import detectability
    from .report.twin import render_twin

    if truth is None or not truth.any():
        raise InputError(cfg.twin, "the detectability index needs the surface's defect mask "
                                   "(--truth, or a file written by scratchlight synth)")
    seeds = [cfg.seed + k for k in range(cfg.seeds)]
    without = render_twin(session, cfg.twin, light, cfg.spp, seeds)
    return detectability(images, without, truth, session.object_mask, window=cfg.window,
                         guard=max(cfg.guard, 3))


# ---------------------------------------------------------------------- output files
def run_json_path(out: str) -> str:
    """Where a command whose output is the file ``out`` saves its config: OUT.run.json."""
    import os

    return os.path.splitext(out)[0] + ".run.json"


def save_render(cfg: RenderConfig, out_png: str, exr: str | None = None, progress: bool = True):
    """``scratchlight render``: render ``cfg`` and write ``out_png`` (tone-mapped), ``exr``
    (linear, optional) and ``OUT.run.json``; returns ``(run.json dict, session)``."""
    from .config import config_to_dict
    from .io import write_exr, write_json, write_png

    image, session, seconds = render_light(cfg, progress=progress)
    write_png(out_png, image)
    if exr:
        write_exr(exr, image)
    doc = {"command": "render", "config": config_to_dict(cfg), "device": session.variant,
           "seconds": seconds}
    write_json(run_json_path(out_png), doc)
    return doc, session


def save_relight(cfg: RelightConfig, out_png: str, exr: str | None = None, progress: bool = True):
    """``scratchlight relight``: T E written as ``out_png``, ``exr`` (optional) and
    ``OUT.run.json``; returns ``(run.json dict, engine)``."""
    from .backend import current_variant
    from .config import config_to_dict
    from .io import write_exr, write_json, write_png

    image, engine, ready, times, choice = relight_light(cfg, progress=progress)
    write_png(out_png, image)
    if exr:
        write_exr(exr, image)
    doc = {"command": "relight", "config": config_to_dict(cfg), "device": current_variant(),
           "engine": engine.name, "engine_choice": choice.to_dict() if choice else None,
           "ready_s": ready, "relight_s": times}
    write_json(run_json_path(out_png), doc)
    return doc, engine


def save_evaluation(cfg: EvaluateConfig, out_json: str, image_png: str | None = None,
                    progress: bool = True) -> dict:
    """``scratchlight evaluate``: the metrics written to ``out_json`` (with the config), the
    mean render to ``image_png`` (optional); returns the JSON dictionary."""
    from .config import config_to_dict
    from .io import write_json, write_png

    report, mean_image, _ = evaluate_light(cfg, progress=progress)
    if image_png:
        write_png(image_png, mean_image)
    doc = {"command": "evaluate", "config": config_to_dict(cfg), **report}
    write_json(out_json, doc)
    return doc
