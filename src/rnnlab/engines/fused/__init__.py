"""The fused CPU engine: numba-compiled forward and backward through time for small models.

Fenced behind a small public surface; nothing outside this package imports its modules:

- :class:`FusedCPUEngine`, registered by :mod:`rnnlab.engines` (``engine="fused"``, and ``auto`` where it
  measured a win and its kernels are ready);
- :func:`ready`: whether the compiled kernels can be had without a compile (:mod:`.cache`);
- :func:`loaded`: whether this process has them already; :func:`building`: whether the background build is
  running (so that :mod:`rnnlab.threads` leaves it its core);
- :func:`sampler`: the compiled sampler the text package draws long samples with, and
  :func:`sampler_loaded`: whether this process has used it already.

numba is imported only once the kernels load. Measurements behind the choices are in ``NOTES.md``.
"""

from rnnlab.engines.fused import cache
from rnnlab.engines.fused.engine import FusedCPUEngine, load_kernels, loaded


def ready() -> bool:
    """Whether the kernels can be had without compiling them now: loaded in this process, or built on disk.

    Where they cannot, a detached background build starts (once), so a later process finds them ready;
    see :mod:`rnnlab.engines.fused.cache`.
    """
    return cache.ready(loaded())


def building() -> bool:
    """Whether the background build is compiling now (it takes a core until it is done: :mod:`.cache`)."""
    ready()  # decided once a process: where the kernels are missing, this starts the build
    return cache.building()


def sampler():
    """The compiled sampler, ``generate(kind, table, w_ih_t, b_ih, w_hh_t, b_hh, w_fc_t, b_fc, h, c, logits,
    noise, temperature, top_k, greedy, ids)`` (see :func:`rnnlab.engines.fused.kernels.generate`), or None
    where numba is missing. Loads the kernels (compiling them where they are not cached: see :func:`ready`)."""
    kernels = load_kernels()
    return None if kernels is None else kernels.generate


def sampler_loaded() -> bool:
    """Whether this process has the compiled sampler already (so using it again costs nothing extra)."""
    return loaded() and bool(load_kernels().generate.signatures)


__all__ = ["FusedCPUEngine", "loaded", "ready", "sampler", "sampler_loaded"]
