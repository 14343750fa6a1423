"""The paper study: rerun the experiments of the scratch-visibility paper (docs/methods.md, section A)
and report where the results agree with it.

``reproduce(out_dir)`` optimizes the light on synthetic surfaces with planted scratches
(ground truth known) and on the real height maps of ``<repo>/../shared/data``, for every
variant the paper's figures compare:

- figure 3: a common environment map (a generated "studio" map) against the light optimized
  from it in RGB (lam 10) and in gray (lam 30, the map converted by CIE L*);
- figure 4: no L2 term, L2 on the image I, L2 on the light E (the paper's);
- figure 6: the objective over every surface pixel, over the paper's scratch map, and (on
  synthetic surfaces) over a user region around the planted scratches;
- figures 7 and 8: four initial states (constant 0.5, random, specular, the studio file) and
  their loss curves.

Everything is repeated for several seeds (``seeds``; 5 in full mode, 2 in quick mode): a
seed makes new synthetic surfaces (and their defect-free twins) and seeds every run; the
real maps keep their surface and get the runs' seeds. Every verdict is decided on the 95 %
t-interval of its quantities over the seeds (:mod:`.verdicts`).

Each run is an ordinary ``run_optimization`` folder (``<surface>/<experiment>/``); a folder
whose ``run.json`` holds the same config is reused, not run again. Every before/after image
is a separate high-spp render scored with :mod:`scratchlight.report.metrics`. The paper's
claims are then checked against the numbers, and ``report.html``, ``summary.md`` and
``results.json`` are written into ``out_dir`` together with one panel figure per paper
figure and surface.

Modules, by concept:

- :mod:`.experiments`: sizes (quick, full), the experiments, what the runs share;
- :mod:`.cases`: the synthetic and real surfaces, the data folder, the studio map;
- :mod:`.runs`: the only use of the optimizer: scene facts of a surface, run-or-reuse;
- :mod:`.records`: measuring a finished run from its results folder;
- :mod:`.measures`: numbers computed from maps, curves and images;
- :mod:`.detect`: d' of every figure's renders against the defect-free twin;
- :mod:`.verdicts`: means, t-intervals over the seeds and the verdict rule;
- :mod:`.claims`: the paper's claims, their checks and verdicts;
- :mod:`.figures`, :mod:`.writing`: the figures, summary.md, report.html, results.json;
- :mod:`.pipeline`: :func:`reproduce`, all of the above in order.
"""
from .cases import default_data_dir, studio_envmap, surface_cases
from .claims import CLAIMS, evaluate_claims
from .detect import CONDITIONS, dprime_summary
from .experiments import EXPERIMENTS, FULL, QUICK, Experiment, Settings
from .measures import SPARSE_LEVEL, colourfulness, convergence_stats, map_stats, pairwise_rms
from .pipeline import reproduce
from .verdicts import combine, interval, judge

__all__ = [
    "Settings", "QUICK", "FULL", "Experiment", "EXPERIMENTS", "CLAIMS", "SPARSE_LEVEL",
    "default_data_dir", "studio_envmap", "surface_cases", "colourfulness", "map_stats",
    "pairwise_rms", "convergence_stats", "evaluate_claims", "reproduce", "CONDITIONS",
    "dprime_summary", "interval", "judge", "combine",
]
