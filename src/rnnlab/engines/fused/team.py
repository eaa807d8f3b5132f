"""torch's own OpenMP threads, lent to a numba kernel: one part of the batch on each thread.

The rows of a batch are independent through time, so a recurrence can run as several kernels side by
side, each over its own rows. Python threads cost too much to start for a kernel of a few hundred
microseconds, and they compete with torch's OpenMP workers, which spin on the other cores for
milliseconds after every parallel operator (``NOTES.md``). This module hands the parts to those same workers
instead: ``GOMP_parallel(fn, data, n, 0)`` — what a ``#pragma omp parallel`` compiles to, and what
torch's own ``parallel_for`` runs on — starts ``fn(data)`` on ``n`` threads of the team and returns when all
are done, in a microsecond or two.

:func:`team_addresses` finds ``GOMP_parallel``, ``omp_get_thread_num`` and ``omp_get_num_threads`` in the
OpenMP runtime torch's CPU library links (found through torch's library, so it is the same runtime and
the same threads as torch's); where there is none (builds without GNU-compatible OpenMP), or with
``RNNLAB_FUSED_THREADS=0``, it returns zeros and the kernels run on the calling thread alone.

``fn`` is a numba ``cfunc`` taking one pointer: to an int64 array (the *job*) of the addresses and sizes
of the arrays it works on, rebuilt on each thread with :func:`array_at`. Addresses travel as plain integers
so that numba can still cache the kernels on disk.

This module needs numba; :mod:`rnnlab.engines.fused.rnn_kernels` imports it.
"""

from __future__ import annotations

import ctypes
import functools
import os

from llvmlite import ir
from numba import carray, types
from numba.extending import intrinsic, overload

from rnnlab.engines.fused.blas import torch_library

_NAMES = ("GOMP_parallel", "omp_get_thread_num", "omp_get_num_threads")


@functools.cache
def team_addresses() -> tuple[int, int, int]:
    """The addresses of ``GOMP_parallel``, ``omp_get_thread_num`` and ``omp_get_num_threads`` in the OpenMP
    runtime torch runs on, or ``(0, 0, 0)`` where it has none of them or ``RNNLAB_FUSED_THREADS=0``."""
    if os.environ.get("RNNLAB_FUSED_THREADS", "1") == "0":
        return 0, 0, 0
    library = torch_library()  # a handle on torch's library finds the symbols of the libraries it links
    if library is None or not all(hasattr(library, name) for name in _NAMES):
        return 0, 0, 0
    addresses = tuple(ctypes.cast(getattr(library, name), ctypes.c_void_p).value or 0 for name in _NAMES)
    return addresses if all(addresses) else (0, 0, 0)


def _job_pointer(context, builder, job_type, job):
    """The data pointer of the job array (as ``void *``)."""
    data = context.make_array(job_type)(context, builder, job).data
    return builder.bitcast(data, ir.IntType(8).as_pointer())


def _is_job(job) -> bool:
    return isinstance(job, types.Array) and job.dtype == types.int64 and job.layout == "C"


@intrinsic
def run_team(typingctx, gomp_parallel, fn, job, threads):
    """``GOMP_parallel(fn, job's data, threads, 0)`` at the integer address ``gomp_parallel``: run the C
    function ``void fn(void *)`` at address ``fn`` on ``threads`` threads of the OpenMP team, each with a
    pointer to the int64 array ``job``; returns when every thread has. The array itself is the argument
    (not its address) so that numba keeps it alive until the call returns: taken as ``job.ctypes.data``,
    an array whose last use that was would be freed before the threads read it."""
    if not (isinstance(gomp_parallel, types.Integer) and isinstance(fn, types.Integer) and _is_job(job)
            and isinstance(threads, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        byte_pointer, int32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        part_type = ir.FunctionType(ir.VoidType(), [byte_pointer])
        function_type = ir.FunctionType(ir.VoidType(), [part_type.as_pointer(), byte_pointer, int32, int32])
        function = builder.inttoptr(args[0], function_type.as_pointer())
        builder.call(function, [builder.inttoptr(args[1], part_type.as_pointer()),
                                _job_pointer(context, builder, signature.args[2], args[2]),
                                builder.trunc(args[3], int32), ir.Constant(int32, 0)])
        return context.get_dummy_value()

    return types.void(gomp_parallel, fn, job, threads), codegen


@intrinsic
def run_alone(typingctx, fn, job):
    """``fn(job's data)`` on this thread alone: the C function ``void fn(void *)`` at the integer address
    ``fn``, with a pointer to the int64 array ``job`` (kept alive as in :func:`run_team`)."""
    if not (isinstance(fn, types.Integer) and _is_job(job)):
        return None

    def codegen(context, builder, signature, args):
        byte_pointer = ir.IntType(8).as_pointer()
        function = builder.inttoptr(args[0], ir.FunctionType(ir.VoidType(), [byte_pointer]).as_pointer())
        builder.call(function, [_job_pointer(context, builder, signature.args[1], args[1])])
        return context.get_dummy_value()

    return types.void(fn, job), codegen


@intrinsic
def call_int0(typingctx, address):
    """``address()``: call the C function ``int f(void)`` at the integer ``address`` (``omp_get_thread_num``,
    ``omp_get_num_threads``); returns its int."""
    if not isinstance(address, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        int32 = ir.IntType(32)
        function = builder.inttoptr(args[0], ir.FunctionType(int32, []).as_pointer())
        return builder.sext(builder.call(function, []), ir.IntType(64))

    return types.int64(address), codegen


@intrinsic
def address_of(typingctx, pointer):
    """The integer address of a ``void *`` (a ``cfunc``'s argument)."""
    if not isinstance(pointer, types.RawPointer):
        return None

    def codegen(context, builder, signature, args):
        return builder.ptrtoint(args[0], ir.IntType(64))

    return types.int64(pointer), codegen


@intrinsic
def _typed_pointer(typingctx, address, dtype):
    """The integer ``address`` as a pointer to ``dtype`` (a numba number class, e.g. ``numba.float32``)."""
    if not (isinstance(address, types.Integer) and isinstance(dtype, types.NumberClass)):
        return None
    pointee = dtype.instance_type

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(types.CPointer(pointee)))

    return types.CPointer(pointee)(address, dtype), codegen


def array_at(address, shape, dtype):
    """The C-contiguous array of ``dtype`` and ``shape`` whose data start at the integer ``address`` (no
    copy; inside a kernel only)."""
    raise NotImplementedError("array_at is for numba kernels")  # pragma: no cover


@overload(array_at)
def _array_at(address, shape, dtype):
    return lambda address, shape, dtype: carray(_typed_pointer(address, dtype), shape)
