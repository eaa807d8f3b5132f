"""The BLAS matrix product torch is built with, called from inside the fused engine's numba kernels.

The recurrence ``h_{t-1} W_hhᵀ`` of a whole batch is a small matrix product per time step (64 × 64 × 64
at hidden 64, batch 64). numba's own loop reaches about half of what a tuned BLAS does at that size
(:func:`rnnlab.engines.fused.primitives.add_matmul`), and numba's ``np.dot`` would need SciPy, which is not
a dependency. torch's CPU library on x86-64 Linux links Intel MKL statically and exports its Fortran
``sgemm_`` / ``dgemm_``; calling them directly costs no framework dispatch (no tensor, no allocation), only
the BLAS call itself.

:func:`gemm_address` finds the function in the loaded torch library and checks it on a small product
against numpy before handing its address out; where it is absent (macOS and other builds without MKL)
or gives a wrong answer, it returns 0 and the kernels use their own loop. The address travels into the
kernels as a plain integer argument, so numba can still cache them on disk (a ctypes function object
would be baked into the compiled code as a constant of one process). :func:`threads_address` hands out
MKL's thread-local thread count the same way, and :func:`call_int` calls it from a kernel. Set
``RNNLAB_FUSED_BLAS=0`` to keep the kernels on their own loop and MKL's threads as they are.

This module needs numba; it is imported by :mod:`rnnlab.engines.fused.kernels`, and by
:mod:`rnnlab.engines.fused.engine` once the kernels have loaded.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys

import numpy as np
import torch
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

_NAMES = {np.dtype(np.float32): "sgemm_", np.dtype(np.float64): "dgemm_"}


def torch_library() -> ctypes.CDLL | None:
    """torch's CPU library, already loaded by ``import torch`` (opening it again only adds a handle)."""
    directory = os.path.join(os.path.dirname(torch.__file__), "lib")
    name = {"win32": "torch_cpu.dll", "darwin": "libtorch_cpu.dylib"}.get(sys.platform, "libtorch_cpu.so")
    try:
        return ctypes.CDLL(os.path.join(directory, name))
    except OSError:
        return None


@functools.cache
def gemm_address(dtype: np.dtype) -> int:
    """The address of the Fortran BLAS ``?gemm_`` for ``dtype`` (float32 or float64) in torch's library,
    checked on a 3 × 5 × 4 product; 0 where there is none, it disagrees with numpy, or
    ``RNNLAB_FUSED_BLAS=0``."""
    dtype = np.dtype(dtype)
    if os.environ.get("RNNLAB_FUSED_BLAS", "1") == "0" or dtype not in _NAMES:
        return 0
    library = torch_library()
    if library is None or not hasattr(library, _NAMES[dtype]):
        return 0
    address = ctypes.cast(getattr(library, _NAMES[dtype]), ctypes.c_void_p).value or 0
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 4)).astype(dtype), rng.standard_normal((4, 5)).astype(dtype)
    c = np.ones((3, 5), dtype)
    _call_from_python(address, c, a, b)
    return address if np.allclose(c, 1 + a @ b, rtol=1e-5, atol=1e-5) else 0


@functools.cache
def threads_address() -> int:
    """The address of MKL's ``mkl_set_num_threads_local(int) -> int`` (C interface) in torch's library, or 0
    where there is none or ``RNNLAB_FUSED_BLAS=0``.

    The kernels call it (:func:`call_int`) to run their small per-step products on their own thread: MKL
    threads even a 64 × 64 × 64 product over every core, which costs more than it saves (``NOTES.md``). The
    setting is the calling thread's alone, and the kernels put the earlier one back, so torch's matrix
    products elsewhere keep their threads."""
    if os.environ.get("RNNLAB_FUSED_BLAS", "1") == "0":
        return 0
    library = torch_library()
    if library is None or not hasattr(library, "MKL_Set_Num_Threads_Local"):
        return 0
    return ctypes.cast(library.MKL_Set_Num_Threads_Local, ctypes.c_void_p).value or 0


def _call_from_python(address: int, c: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    """``c += a @ b`` through the BLAS at ``address`` (row-major, contiguous), from Python: the check."""
    m, k = a.shape
    n = b.shape[1]
    ints = np.array([n, m, k], dtype=np.int32)
    one = np.ones(1, dtype=c.dtype)
    trans = np.array([ord("N")], dtype=np.uint8)
    p = lambda arr, i=0: ctypes.c_void_p(arr.ctypes.data + i * arr.itemsize)  # noqa: E731
    gemm = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 13)(address)
    # row-major C = A B is column-major Cᵀ = Bᵀ Aᵀ: m' = n, n' = m, leading dimensions the row lengths
    gemm(p(trans), p(trans), p(ints, 0), p(ints, 1), p(ints, 2), p(one), p(b), p(ints, 0), p(a), p(ints, 2),
         p(one), p(c), p(ints, 0))


@intrinsic
def fortran_gemm(typingctx, address, pointers):
    """``address(*pointers)``: call the Fortran ``?gemm_`` at the integer ``address`` with its 13 arguments,
    each a pointer (as an integer) to the value, as Fortran passes them."""
    if not (isinstance(address, types.Integer) and isinstance(pointers, types.UniTuple)
            and pointers.count == 13 and isinstance(pointers.dtype, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        byte_pointer = ir.IntType(8).as_pointer()
        function_type = ir.FunctionType(ir.VoidType(), [byte_pointer] * 13)
        function = builder.inttoptr(args[0], function_type.as_pointer())
        builder.call(function, [builder.inttoptr(builder.extract_value(args[1], i), byte_pointer) for i in range(13)])
        return context.get_dummy_value()

    return types.void(address, pointers), codegen


@intrinsic
def call_int(typingctx, address, value):
    """``address(value)``: call the C function ``int f(int)`` at the integer ``address``; returns its int."""
    if not (isinstance(address, types.Integer) and isinstance(value, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        int32 = ir.IntType(32)
        function = builder.inttoptr(args[0], ir.FunctionType(int32, [int32]).as_pointer())
        width = args[1].type.width
        argument = args[1] if width == 32 else (builder.trunc if width > 32 else builder.sext)(args[1], int32)
        result = builder.call(function, [argument])
        return builder.sext(result, context.get_value_type(types.int64))

    return types.int64(address, value), codegen
