"""The precomputed light-transport engine: the image is a sparse matrix times the light.

With a sampling strategy that does not depend on the light, the render is linear in the
environment map E:  I = T E,  T of shape (h*w pixels) x (H*W texels) per RGB channel.

- ``matrix``: ``TransportMatrix``, T stored row-compressed, its products T E and T^T G,
  its ``.npz`` file; ``mean_apply``, the image of several matrices in one pass.
- ``kernels``: the threaded products (numba) the matrix runs.
- ``build``: ``build_transport``, T estimated by path tracing the Mitsuba scene.
- ``cache``: ``load_or_build_transport``, T cached on disk under ``transport_key``.
- ``engine``: ``TransportEngine``, the engine protocol (``engines.base``) on two
  independent matrices, one for the primal image and one for the gradient.
- ``noise``: ``NoiseModel``, the per-pixel Monte Carlo noise a Mitsuba render has and T E
  lacks, added to the primal image of every iteration (``noise='matched'``).
- ``warmup``: ``Warmup``, the first iterations of a run, rendered with Mitsuba at low spp.
"""
from .build import build_transport
from .cache import default_cache_dir, load_or_build_transport, transport_key
from .engine import TransportEngine, half_seed
from .matrix import TRANSPORT_VERSION, TransportMatrix, mean_apply
from .noise import NOISE_MODES, NoiseModel
from .warmup import Warmup

__all__ = ["TRANSPORT_VERSION", "TransportMatrix", "TransportEngine", "build_transport",
           "transport_key", "default_cache_dir", "load_or_build_transport", "half_seed",
           "NoiseModel", "NOISE_MODES", "mean_apply", "Warmup"]
