"""Helpers of ``transport_start.py``: the surfaces, the cases (light and objective options)
and the summary tables of the transport-from-any-start benchmark (issue 12, part 1)."""
from __future__ import annotations

import os

import numpy as np

DATA = os.environ.get("SCRATCHLIGHT_DATA", "/work/shared/data")

# Engines as (OptimizerConfig.engine, OptimizerConfig.transport_noise).
ENGINES = {"ad": ("ad", "matched"), "transport-matched": ("transport", "matched"),
           "transport-none": ("transport", "none")}
DEFAULT_ENGINES = ("ad", "transport-matched")

# Case -> LightConfig fields (besides the defaults: gray 25 x 50, constant 0.5, lambda of
# the colour mode, L2 on the envmap, mask 'object'). 'file' gets its path at run time.
CASES = {
    "constant:0.5": {"init": "constant:0.5"},
    "random": {"init": "random"},
    "specular": {"init": "specular"},
    "file": {"init": None},
    "rgb": {"color": "rgb"},
    "l2 image": {"l2_target": "image"},
    "l2 none": {"l2_target": "none"},
    "mask scratch": {"mask": "scratch"},
}


def surfaces(tmp: str, args) -> dict:
    """label -> SurfaceConfig: a synthetic face-milled map (``--synth-size`` squared, written
    as .npz) and the measured maps found in DATA; all resampled to ``--max-size``."""
    import scratchlight as sl
    from scratchlight.surface import SurfaceConfig

    out = {}
    label = f"synthetic face-mill {args.synth_size}"
    if not args.surface or label in args.surface:
        synth = os.path.join(tmp, "face-mill.npz")
        sl.io.write_npz(synth, sl.synthesize("face-mill", size=args.synth_size, scratches=3))
        out[label] = SurfaceConfig(synth, max_size=args.max_size)
    for name in ("milled-face.sur", "bullet-land-sample.x3p"):
        path = os.path.join(DATA, name)
        if os.path.isfile(path) and (not args.surface or name in args.surface):
            out[name] = SurfaceConfig(path, max_size=args.max_size)
    return out


def raking_lamp(path: str, shape=(64, 128), elevation_deg=15.0, azimuth_deg=90.0,
                sigma_deg=8.0, floor=0.02) -> str:
    """Write a lat-long light file (EXR, linear RGB, row 0 the zenith): a Gaussian lamp of
    ``sigma_deg`` at ``elevation_deg`` above the horizon on a dim ``floor``, larger than the
    optimized map so that ``--init FILE`` resamples it (and converts it to gray by L*)."""
    from scratchlight.io import write_exr

    H, W = shape
    theta = (np.arange(H) + 0.5) / H * 180.0  # polar angle from the zenith
    phi = (np.arange(W) + 0.5) / W * 360.0
    dphi = (phi[None, :] - azimuth_deg + 180.0) % 360.0 - 180.0
    d2 = (theta[:, None] - (90.0 - elevation_deg)) ** 2 + dphi ** 2
    E = floor + (1.0 - floor) * np.exp(-0.5 * d2 / sigma_deg ** 2)
    write_exr(path, np.repeat(E[..., None], 3, axis=2).astype(np.float32))
    return path


def case_light(case: str, lamp_path: str):
    """The LightConfig of ``case``."""
    from scratchlight.optimize.config import LightConfig

    fields = dict(CASES[case])
    if fields.get("init", "") is None:
        fields["init"] = lamp_path
    return LightConfig(**fields)


def _median(rows, key="loss"):
    vals = [r[key] for r in rows if r.get(key) is not None]
    return float(np.median(vals)) if vals else float("nan")


def ratios(rows, engine="transport-matched") -> dict:
    """(surface, case) -> (AD median, ``engine`` median, ratio, n seeds, AD time, time)."""
    out = {}
    for surface, case in dict.fromkeys((r["surface"], r["case"]) for r in rows):
        sel = {n: [r for r in rows if (r["surface"], r["case"], r["engine"]) == (surface, case, n)
                   and r.get("loss") is not None] for n in ("ad", engine)}
        if not sel["ad"] or not sel[engine]:
            continue
        ad, tr = _median(sel["ad"]), _median(sel[engine])
        out[surface, case] = (ad, tr, tr / ad, min(len(sel["ad"]), len(sel[engine])),
                              _median(sel["ad"], "time_s"), _median(sel[engine], "time_s"))
    return out


def summary(rows, target=1.02) -> str:
    """Markdown: per surface and case the medians and ratios of every transport engine run,
    a pivot of the matched ratio (surface x case) and the worst ratio."""
    engines = [n for n in ENGINES if n != "ad" and any(r["engine"] == n for r in rows)]
    per = {n: ratios(rows, n) for n in engines}
    head = "| surface | case | AD | " + " | ".join(f"{n} | ratio" for n in engines) + \
        " | seeds | time AD / " + " / ".join(engines) + " |"
    lines = [head, "|---|---|---|" + "---|---|" * len(engines) + "---|---|"]
    keys = dict.fromkeys(k for n in engines for k in per[n])
    for key in keys:
        vals = [per[n].get(key) for n in engines]
        ad = next(v for v in vals if v is not None)
        cells = " | ".join("- | -" if v is None else
                           f"{v[1]:.3f} | {'**' if n == 'transport-matched' else ''}{v[2]:.3f}"
                           f"{'**' if n == 'transport-matched' else ''}"
                           for n, v in zip(engines, vals))
        times = " / ".join("-" if v is None else f"{v[5]:.1f} s" for v in vals)
        same = {r["same_as"] for r in rows if (r["surface"], r["case"]) == key and r.get("same_as")}
        case = key[1] + "".join(f" (= {c}: whole surface)" for c in same)
        lines.append(f"| {key[0]} | {case} | {ad[0]:.3f} | {cells} | {ad[3]} | "
                     f"{ad[4]:.1f} s / {times} |")
    failed = sorted({(r["surface"], r["case"], r["error"]) for r in rows if r.get("error")})
    for surface, case, err in failed:
        lines.append(f"| {surface} | {case} | not run: {err} |")
    if "transport-matched" not in per or not per["transport-matched"]:
        return "\n".join(lines)
    m = per["transport-matched"]
    surfs = list(dict.fromkeys(k[0] for k in m))
    cases = list(dict.fromkeys(k[1] for k in m))
    lines += ["", "transport-matched / AD (median of seeds):", "",
              "| surface | " + " | ".join(cases) + " |", "|---|" + "---|" * len(cases)]
    for s in surfs:
        lines.append(f"| {s} | " + " | ".join(
            "-" if (s, c) not in m else f"{m[s, c][2]:.3f}" for c in cases) + " |")
    worst = max(m, key=lambda k: m[k][2])
    miss = [f"{s} / {c} ({m[s, c][2]:.3f})" for s, c in m if m[s, c][2] > target]
    lines += ["", f"worst: {m[worst][2]:.3f} ({worst[0]}, {worst[1]}); above {target} x: "
              + (", ".join(miss) if miss else "none")]
    return "\n".join(lines)


# ---------------------------------------------------------------- noise-matching variants
NOISE_VARIANTS = "mean, median, gate:G, every:N, fresh:K"


def use_noise_variant(spec: str) -> None:
    """Patch, in this process only, the transport engine's noise matching into a variant
    measured in benchmarks/README.md (the library's own code is unchanged):

    - ``mean``: var_T subtracted as the 5 x 5 box mean of the halves' squared difference
      (the matching before it took the bulk of var_T);
    - ``median``: as the box median scaled to a Gaussian's variance (the bulk of T's
      heavy-tailed noise);
    - ``gate:G`` (on ``mean``): add the noise only when the start's var_T / (var_T +
      var_added), summed over the surface, is below G;
    - ``every:N`` (on ``mean``): recalibrate at the current map every N gradient renders,
      not only at the start;
    - ``fresh:K`` (on ``mean``): 2K matrices of spp / K paths; each gradient render draws K
      of them for the primal image and the other K for the gradient (T's noise is not
      frozen in two halves).

    Every variant records ``var_ratio`` (the start's var_T share) on the noise model."""
    from scratchlight.engines import ADEngine, ENGINES
    from scratchlight.engines.transport import TransportEngine, noise

    kind, _, arg = spec.partition(":")
    NM = noise.NoiseModel

    def calibrate(self, halves, E, seed=0):  # NoiseModel.calibrate, plus the variants' parts
        a, b = (T.apply(E).astype(np.float64) for T in halves)
        ref = 0.5 * (a + b)
        if getattr(self, "_ad", None) is None:
            self._ad = ADEngine(self.scene, spp=self.calibration_spp)
        mc_seed = (int(seed) + noise._CAL_SEED_OFFSET) % 2 ** 31
        mc = self._ad.render(E, seed=mc_seed).astype(np.float64)
        var_t = 0.5 * noise._box((a - b) ** 2)
        var_ad = (noise._box((mc - ref) ** 2) - 0.5 * var_t) * (self.calibration_spp / self.spp)
        if kind == "median":
            from scipy.ndimage import median_filter

            var_t = 0.5 * median_filter((a - b) ** 2, size=(noise._BOX, noise._BOX, 1),
                                        mode="nearest") / 0.454936  # median of chi2(1)
        var = np.maximum(var_ad - var_t, 0.0)
        self.set_noise(np.sqrt(var), ref)
        m = np.asarray(self.scene.object_mask, bool)
        vt, va = float(var_t[m].sum()), float(var[m].sum())
        self.var_ratio = vt / (vt + va) if vt + va > 0 else 1.0
        self.renders = 0

    perturb = NM.perturb
    NM.calibrate = calibrate
    if kind == "gate":
        NM.perturb = lambda self, image, seed: (
            image if self.var_ratio >= float(arg) else perturb(self, image, seed))
    elif kind == "every":
        render = TransportEngine.render

        def every_render(self, E, seed=0, spp=None, grad=False):
            nm = self.noise_model
            if grad and nm is not None and nm.sd is not None:
                if nm.renders >= int(arg):
                    nm.calibrate(self.halves, np.asarray(E, np.float32), seed)
                nm.renders += 1
            return render(self, E, seed, spp, grad)

        TransportEngine.render = every_render
    elif kind == "fresh":
        ENGINES["transport"] = _fresh_engine(int(arg))
    elif kind not in ("mean", "median"):
        raise SystemExit(f"unknown noise variant {spec!r}; choose from {NOISE_VARIANTS}")


class _Mean:
    """The mean of several transport matrices (apply and apply_transpose)."""

    def __init__(self, Ts):
        self.Ts = Ts

    def apply(self, E):
        total = sum(T.apply(E).astype(np.float64) for T in self.Ts)
        return (total / len(self.Ts)).astype(np.float32)

    def apply_transpose(self, G, channels=3):
        return sum(T.apply_transpose(G, channels) for T in self.Ts) / len(self.Ts)


def _fresh_engine(K: int):
    from scratchlight.engines.transport import TransportEngine
    from scratchlight.engines.transport.cache import load_or_build_transport
    from scratchlight.engines.transport.engine import half_seed

    class FreshTransport(TransportEngine):
        def __init__(self, scene, spp=16, seed=0, cache_dir=None, noise="matched", **_):
            self.scene, self.spp, self.seed, self.decorrelate = scene, int(spp), int(seed), True
            self.set_noise(noise)
            self.subs = [load_or_build_transport(scene, spp=max(1, self.spp // K),
                                                 seed=half_seed(self.seed, 100 + k),
                                                 cache_dir=cache_dir)[0] for k in range(2 * K)]
            self.halves = (_Mean(self.subs[:K]), _Mean(self.subs[K:]))
            self.T, self.from_cache, self.precompute_seconds, self._grad = None, False, 0.0, None

        @property
        def matrices(self):
            return list(self.subs)

        def render(self, E, seed=0, spp=None, grad=False):
            if not grad:
                return super().render(E, seed, spp, grad)
            E = np.asarray(E)
            perm = np.random.default_rng([int(seed), 0xF2E5]).permutation(2 * K)
            image = _Mean([self.subs[i] for i in perm[:K]]).apply(E)
            if self.noise_model is not None:
                image = self.noise_model.perturb(image, seed)
            self._grad = (_Mean([self.subs[i] for i in perm[K:]]), 1 if E.ndim == 2 else E.shape[2])
            return image

    return FreshTransport
