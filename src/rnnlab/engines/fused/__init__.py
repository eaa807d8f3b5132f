"""The fused CPU engine: numba-compiled forward and backward through time for small models.

Fenced behind a small public surface: :class:`FusedCPUEngine` (registered by :mod:`rnnlab.engines`).
Nothing outside this package imports its kernels; numba is imported only once the kernels load.
"""

from rnnlab.engines.fused.engine import FusedCPUEngine

__all__ = ["FusedCPUEngine"]
