"""The fused CPU engine against the oracle, torch.nn.RNN/LSTM/GRU: outputs, final states, every gradient."""

import itertools
import warnings

import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

import rnnlab.nn as rnn
from oracle import BATCH, CELLS, INPUT, LENGTH, TOL, assert_same_as_torch, clone, flat, pair, states
from rnnlab import engines
from rnnlab.engines.fused import engine as fused_cpu

pytest.importorskip("numba")


@pytest.fixture
def fused_calls(monkeypatch):
    """Counts the calls that really reach the fused engine (not a fallback)."""
    calls = []
    run = fused_cpu.FusedCPUEngine.run

    def counting_run(self, mode, x, *args, **kwargs):
        calls.append((mode, tuple(x.shape)))
        return run(self, mode, x, *args, **kwargs)

    monkeypatch.setattr(fused_cpu.FusedCPUEngine, "run", counting_run)
    return calls


@pytest.fixture(params=["blas", "loop"])
def product(request, monkeypatch):
    """Runs a test once with the BLAS product in the kernels and once with their own loop; records the
    addresses the engine handed to the kernels."""
    from rnnlab.engines.fused import blas

    used = []
    real = fused_cpu._gemm

    def recording_gemm(like, rows, inner, cols):  # BLAS at any size, or never
        address = real(like, 1 << 20, 1 << 20, 1 << 20) if request.param == "blas" else 0
        used.append(address)
        return address

    if request.param == "blas" and not blas.gemm_address(np.float32):
        pytest.skip("torch on this platform exports no BLAS ?gemm_")
    monkeypatch.setattr(fused_cpu, "_gemm", recording_gemm)
    return request.param, used


def _pair(cell, dtype, engine="fused", seed=0, **kwargs):
    """The oracle pair, on the fused engine unless told otherwise."""
    return pair(cell, dtype, engine, seed, **kwargs)


GRID = list(itertools.product(CELLS, [True, False], [False, True], [1, 2, 3], [False, True],
                              [torch.float32, torch.float64]))


@pytest.mark.parametrize("cell,bias,batch_first,num_layers,bidirectional,dtype", GRID)
def test_oracle_grid(cell, bias, batch_first, num_layers, bidirectional, dtype, fused_calls):
    ours, theirs = _pair(cell, dtype, bias=bias, batch_first=batch_first, num_layers=num_layers,
                         bidirectional=bidirectional)
    x = torch.randn((BATCH, LENGTH, INPUT) if batch_first else (LENGTH, BATCH, INPUT), dtype=dtype)
    assert_same_as_torch(ours, theirs, x, states(cell, num_layers * (2 if bidirectional else 1), BATCH, dtype),
                         TOL[dtype])
    assert len(fused_calls) == num_layers * (2 if bidirectional else 1)  # every layer-direction, no fallback


@pytest.mark.parametrize("cell,dtype", list(itertools.product(CELLS, [torch.float32, torch.float64])))
def test_longer_wider_sequence_matches_torch(cell, dtype, fused_calls):
    """Longer in time and with more units than the grid, so errors that grow through time would show."""
    ours_cls, theirs_cls, extra = CELLS[cell]
    torch.manual_seed(3)
    theirs = theirs_cls(6, 24, **extra).to(dtype)
    ours = ours_cls(6, 24, **extra, engine="fused").to(dtype)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(30, 5, 6, dtype=dtype)
    hx = tuple(torch.randn(1, 5, 24, dtype=dtype) for _ in range(2)) if cell == "lstm" else torch.randn(1, 5, 24,
                                                                                                       dtype=dtype)
    assert_same_as_torch(ours, theirs, x, hx, 2 * TOL[dtype])
    assert fused_calls


@pytest.mark.parametrize("cell", CELLS)
def test_unbatched_input_matches_torch(cell, fused_calls):
    ours, theirs = _pair(cell, torch.float64, num_layers=2, bidirectional=True)
    assert_same_as_torch(ours, theirs, torch.randn(LENGTH, INPUT, dtype=torch.float64),
                         states(cell, 4, None, torch.float64), 1e-10)
    assert len(fused_calls) == 4


@pytest.mark.parametrize("cell,bidirectional", list(itertools.product(CELLS, [False, True])))
def test_packed_variable_lengths_match_torch(cell, bidirectional, product, fused_calls):
    """Rows ending at different steps, through the BLAS product (batch 8) and the kernels' own loop."""
    ours, theirs = _pair(cell, torch.float64, num_layers=2, bidirectional=bidirectional)
    lengths = torch.tensor([2, 5, 1, 4, 5, 3, 1, 5])
    padded = torch.randn(LENGTH, len(lengths), INPUT, dtype=torch.float64)
    hx = states(cell, 2 * (2 if bidirectional else 1), len(lengths), torch.float64)
    results = []
    for layer in (ours, theirs):
        x, h = padded.clone().requires_grad_(), clone(hx)
        out, hn = layer(pack_padded_sequence(x, lengths, enforce_sorted=False), h)
        loss = (out.data ** 2).sum() + sum((s ** 3).sum() for s in flat(hn))
        loss.backward()
        results.append((out.data, flat(hn), x.grad, [s.grad for s in flat(h)], [p.grad for p in layer.parameters()]))
    assert fused_calls
    for a, b in zip(*results):
        for u, v in zip(a if isinstance(a, list) else [a], b if isinstance(b, list) else [b]):
            torch.testing.assert_close(u, v, atol=1e-10, rtol=1e-10)


def test_inference_without_grad_matches_training_path():
    ours, theirs = _pair("gru", torch.float32, num_layers=2)
    x = torch.randn(LENGTH, BATCH, INPUT)
    with torch.no_grad():
        out1, h1 = ours(x)
        out2, h2 = theirs(x)
    torch.testing.assert_close(out1, out2, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(h1, h2, atol=1e-5, rtol=1e-5)


def test_weight_changed_in_place_is_seen(fused_calls):
    """An in-place update between calls, even one through ``.data`` that autograd does not see, is used."""
    ours, theirs = _pair("rnn_tanh", torch.float64)
    x = torch.randn(LENGTH, BATCH, INPUT, dtype=torch.float64)
    with torch.no_grad():
        ours(x)
        for layer in (ours, theirs):
            layer.weight_hh_l0.mul_(-0.5)
        torch.testing.assert_close(ours(x)[0], theirs(x)[0], atol=1e-10, rtol=1e-10)
        for layer in (ours, theirs):
            layer.weight_hh_l0.data.add_(0.25)
        torch.testing.assert_close(ours(x)[0], theirs(x)[0], atol=1e-10, rtol=1e-10)
    assert len(fused_calls) == 3


def test_double_backward_is_refused():
    ours, _ = _pair("rnn_tanh", torch.float64)
    x = torch.randn(LENGTH, BATCH, INPUT, dtype=torch.float64, requires_grad=True)
    out, _ = ours(x)
    with pytest.raises(RuntimeError, match="double backward"):
        torch.autograd.grad(out.sum(), x, create_graph=True)


def test_named_fused_is_selected_where_supported():
    x = torch.zeros(5, 2, 3)
    assert engines.select("fused", "rnn_tanh", x, 4).name == "fused"
    assert engines.select("fused", "lstm", x.double(), 4).name == "fused"
    for dtype in (torch.float16, torch.bfloat16):  # no kernels for these: fall back to torch
        assert engines.select("fused", "gru", x.to(dtype), 4).name == "torch"


def test_without_numba_falls_back_to_torch_with_same_results(monkeypatch, fused_calls):
    monkeypatch.setattr(fused_cpu, "kernels", None)
    x = torch.zeros(5, 2, 3)
    assert engines.select("fused", "rnn_tanh", x, 4).name == "torch"
    assert engines.select("auto", "rnn_tanh", x, 20).name == "torch"
    ours, theirs = _pair("lstm", torch.float64, num_layers=2, bidirectional=True)
    assert_same_as_torch(ours, theirs, torch.randn(LENGTH, BATCH, INPUT, dtype=torch.float64),
             states("lstm", 4, BATCH, torch.float64), 1e-10)
    assert not fused_calls


def test_numba_that_fails_to_import_is_declined(monkeypatch):
    import sys

    monkeypatch.setattr(fused_cpu, "kernels", fused_cpu._NOT_LOADED)
    monkeypatch.setitem(sys.modules, "rnnlab.engines.fused.kernels", None)  # import raises ImportError
    assert not engines.get("fused").supports("rnn_tanh", torch.zeros(5, 2, 3), None)
    assert fused_cpu.kernels is None


@pytest.mark.parametrize("mode", ["rnn_tanh", "rnn_relu"])
def test_auto_picks_fused_only_in_its_measured_region(mode):
    x = torch.zeros(50, 64, 20)
    engine = engines.get("fused")
    for hidden in (20, 64):  # issue 7's targets: batch 64, length 50
        assert engine.wins(mode, x, hidden)
        assert engines.select("auto", mode, x, hidden).name == "fused"
    for hidden in (1024, 2048):  # large layers: not measured
        assert not engine.wins(mode, x, hidden)
        assert engines.select("auto", mode, x, hidden).name == "torch"
    assert engines.select("auto", mode, torch.zeros(50, 1, 20), 512).name == "fused"  # batch 1: even wide
    assert engines.select("auto", mode, torch.zeros(50, 256, 20), 256).name == "fused"
    assert engines.select("auto", mode, torch.zeros(50, 256, 20), 512).name == "torch"  # 1.20-1.21×: too close
    assert engines.select("auto", mode, torch.zeros(50, 512, 20), 20).name == "torch"  # batches not measured
    for other in (x.double(), x.half(), x[:1]):  # not measured faster: fp64, fp16, a single step
        assert engines.select("auto", mode, other, 20).name == "torch"


def test_auto_picks_fused_for_small_gru_and_never_for_lstm():
    x = torch.zeros(50, 64, 20)
    assert engines.select("auto", "gru", x, 20).name == "fused"
    assert engines.select("auto", "gru", x, 256).name == "torch"
    for hidden in (20, 64, 256):
        assert engines.select("auto", "lstm", x, hidden).name == "torch"


def test_auto_layer_uses_fused_per_layer_where_it_wins(fused_calls):
    layer = rnn.RNN(20, 20, num_layers=2)
    layer(torch.randn(50, 64, 20))  # both layers in the measured region: hidden 20, length 50, fp32
    assert len(fused_calls) == 2
    fused_calls.clear()
    rnn.RNN(8, 1024)(torch.randn(3, 2, 8))
    assert not fused_calls


def test_kernels_compile_in_memory_where_the_cache_is_not_writable(monkeypatch):
    import numba

    from rnnlab.engines.fused import kernels as fused_kernels

    real_njit = numba.njit

    def njit_without_cache(*args, **options):  # numba's own modules call it too, with the function
        if options.get("cache"):
            raise RuntimeError("cannot cache function 'f': no locator available for file 'f.py'")
        return real_njit(*args, **options)

    monkeypatch.setattr(numba, "njit", njit_without_cache)

    def twice(v):
        return 2 * v

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compiled = fused_kernels._jit(twice)
    assert compiled(21) == 42
    assert any("cannot cache" in str(w.message) for w in caught)


def test_the_rnn_parts_compile_in_memory_where_the_cache_is_not_writable(monkeypatch):
    import ctypes

    import numba

    from rnnlab.engines.fused import rnn_kernels

    real_cfunc = numba.cfunc

    def cfunc_without_cache(signature, **options):
        if options.get("cache"):
            raise RuntimeError("cannot cache function 'f': no locator available for file 'f.py'")
        return real_cfunc(signature, **options)

    monkeypatch.setattr(numba, "cfunc", cfunc_without_cache)

    def part(data):  # a stand-in part that does nothing
        return None

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compiled = rnn_kernels._compile_part(part)
    assert compiled.address and ctypes.CFUNCTYPE(None, ctypes.c_void_p)(compiled.address)(None) is None
    assert any("cannot cache" in str(w.message) for w in caught)


# -- the recurrence's product: BLAS and the kernels' own loop ------------------------------------------------


@pytest.mark.parametrize("cell,dtype", list(itertools.product(CELLS, [torch.float32, torch.float64])))
def test_both_products_match_torch_at_batches_that_use_blas(cell, dtype, product, fused_calls):
    """Batch 9 (two 4-row blocks and one row left over in the loop), hidden 20 (not a multiple of 8: the
    padded columns), two layers both ways, against torch.nn."""
    batch = 9
    ours_cls, theirs_cls, extra = CELLS[cell]
    torch.manual_seed(5)
    theirs = theirs_cls(7, 20, num_layers=2, bidirectional=True, **extra).to(dtype)
    ours = ours_cls(7, 20, num_layers=2, bidirectional=True, **extra, engine="fused").to(dtype)
    ours.load_state_dict(theirs.state_dict())
    g = torch.Generator().manual_seed(6)
    shape = (4, batch, 20)
    hx = tuple(torch.randn(shape, generator=g, dtype=dtype) for _ in range(2)) if cell == "lstm" else (
        torch.randn(shape, generator=g, dtype=dtype))
    assert_same_as_torch(ours, theirs, torch.randn(12, batch, 7, generator=g, dtype=dtype), hx, 2 * TOL[dtype])
    kind, used = product
    assert len(fused_calls) == 4
    assert used and all((a != 0) == (kind == "blas") for a in used)


def test_gemm_address_declines_where_it_should(monkeypatch):
    from rnnlab.engines.fused import blas

    def fresh(dtype=np.float32):
        blas.gemm_address.cache_clear()
        return blas.gemm_address(dtype)

    try:
        if not fresh():
            pytest.skip("torch on this platform exports no BLAS ?gemm_")
        assert fresh(np.float64)
        assert not fresh(np.float16)  # no kernels for it
        monkeypatch.setenv("RNNLAB_FUSED_BLAS", "0")
        assert not fresh()
        monkeypatch.delenv("RNNLAB_FUSED_BLAS")
        monkeypatch.setattr(blas, "torch_library", lambda: None)  # a torch build without the library
        assert not fresh()
        monkeypatch.undo()
        monkeypatch.setattr(blas, "_call_from_python", lambda *args: None)  # a ?gemm_ that computes nothing
        assert not fresh()
    finally:
        monkeypatch.undo()
        blas.gemm_address.cache_clear()


@pytest.mark.parametrize("cell", CELLS)
def test_broadcast_incoming_gradients_are_read_in_place(cell, fused_calls):
    """``out.sum()`` hands the backward a stride-0 gradient, which the kernels read as it is (no copy)."""
    ours, theirs = _pair(cell, torch.float32)
    x = torch.randn(9, 12, INPUT)
    grads = []
    for layer in (ours, theirs):
        xg = x.clone().requires_grad_()
        out, hn = layer(xg)
        (out.sum() + sum(s.sum() for s in flat(hn))).backward()
        grads.append([xg.grad, *(p.grad for p in layer.parameters())])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    assert fused_calls


def _assert_weighted_gradients_match(ours, theirs, x, weight):
    """The gradients of ``(out * weight).sum()`` (``weight`` broadcast over the output) w.r.t. the input and
    every parameter, ours against torch's (fp64)."""
    grads = []
    for layer in (ours, theirs):
        xg = x.clone().requires_grad_()
        out, _ = layer(xg)
        (out * weight).sum().backward()
        grads.append([xg.grad, *(p.grad for p in layer.parameters())])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("cell", ["rnn_tanh", "rnn_relu"])
@pytest.mark.parametrize("broadcast", ["time", "batch"])
def test_gradients_broadcast_along_one_dimension_match_torch(cell, broadcast, fused_calls):
    """An incoming gradient with stride 0 along time only (a weight per row and unit) or along the batch
    only (a weight per step and unit): the RNN kernel reads one step or one row for all of them."""
    ours, theirs = _pair(cell, torch.float64, num_layers=2)
    x = torch.randn(7, 5, INPUT, dtype=torch.float64)
    g = torch.Generator().manual_seed(4)
    weight = torch.randn((1, 5, 4) if broadcast == "time" else (7, 1, 4), generator=g, dtype=torch.float64)
    _assert_weighted_gradients_match(ours, theirs, x, weight)
    assert len(fused_calls) == 2


def test_rnn_output_is_the_saved_states_so_changing_it_in_place_is_refused(fused_calls):
    """Where every row runs the whole length the RNN's output is a view of the kernel's saved states (no
    copy); changing it in place is refused by autograd at once, never a silently wrong gradient. Without
    grad it is an ordinary tensor, and with variable lengths a tensor of its own."""
    ours, theirs = _pair("rnn_tanh", torch.float64)
    x = torch.randn(LENGTH, BATCH, INPUT, dtype=torch.float64, requires_grad=True)
    out, _ = ours(x)
    with pytest.raises(RuntimeError, match="is a view and is being modified inplace"):
        out.mul_(2)
    with torch.no_grad():
        out, _ = ours(x)
        out.mul_(2)
        torch.testing.assert_close(out, 2 * theirs(x)[0], atol=1e-10, rtol=1e-10)
    packed = pack_padded_sequence(torch.randn(LENGTH, 3, INPUT, dtype=torch.float64), torch.tensor([5, 2, 4]),
                                  enforce_sorted=False)
    results = []
    for layer in (ours, theirs):
        out, _ = layer(packed)
        data = out.data * 1  # a fresh tensor whatever the engine returned
        results.append(data)
    torch.testing.assert_close(results[0], results[1], atol=1e-10, rtol=1e-10)
    assert len(fused_calls) == 3


def test_small_products_run_on_one_blas_thread_and_the_setting_comes_back():
    """The kernels' ``_serial_begin`` sets this thread's MKL to one thread and ``_serial_end`` puts the earlier
    setting back (read through MKL's own ``mkl_get_max_threads``); which products get it is by size."""
    import ctypes

    import numba

    from rnnlab.engines.fused import blas, kernels as fused_kernels

    address = blas.threads_address()
    if not address:
        pytest.skip("torch on this platform exports no MKL thread control")
    get = blas.torch_library().MKL_Get_Max_Threads
    get.restype = ctypes.c_int

    @numba.njit
    def begin(threads):
        return fused_kernels._serial_begin(threads)

    @numba.njit
    def end(threads, previous):
        fused_kernels._serial_end(threads, previous)

    before = get()
    previous = begin(address)
    inside = get()
    end(address, previous)
    assert inside == 1
    assert get() == before
    assert begin(0) == 0 and get() == before  # 0: no MKL, nothing done
    assert fused_cpu._serial(64, 64) == address  # RNN hidden 64: one thread
    assert fused_cpu._serial(64, 192) == 0  # GRU hidden 64: MKL's own threads measured faster


def test_a_fused_call_leaves_the_blas_threads_as_they_were(fused_calls):
    import ctypes

    from rnnlab.engines.fused import blas

    if not blas.threads_address():
        pytest.skip("torch on this platform exports no MKL thread control")
    get = blas.torch_library().MKL_Get_Max_Threads
    get.restype = ctypes.c_int
    before = get()
    layer = rnn.RNN(16, 16, engine="fused")
    x = torch.randn(6, 16, 16, requires_grad=True)
    out, hn = layer(x)
    (out.sum() + hn.sum()).backward()
    assert fused_calls and get() == before


@pytest.fixture
def split(monkeypatch):
    """Makes the RNN's kernels split every batch over torch's threads (at least two, whatever the machine:
    the OpenMP runtime starts them even on one core), and records how many parts each call used."""
    from rnnlab.engines.fused import team

    if not team.team_addresses()[0]:
        pytest.skip("torch on this platform runs on no GNU-compatible OpenMP runtime")
    monkeypatch.setattr(fused_cpu, "PART_MIN_ROWS", 1)
    monkeypatch.setattr(fused_cpu, "PART_MIN_WORK", 1)
    threads = torch.get_num_threads()
    torch.set_num_threads(max(2, threads))
    used = []
    real = fused_cpu._rnn_team

    def recording_team(like, batch, hidden):
        chosen = real(like, batch, hidden)
        used.append(chosen[-1])
        return chosen

    monkeypatch.setattr(fused_cpu, "_rnn_team", recording_team)
    yield used
    torch.set_num_threads(threads)


@pytest.mark.parametrize("cell", ["rnn_tanh", "rnn_relu"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_rnn_split_over_threads_matches_torch(cell, bias, dtype, product, split, fused_calls):
    """Rows split over two threads (7 rows: 3 and 4), through BLAS and the kernels' own loop: outputs and
    every gradient as torch.nn's, two layers and both directions."""
    ours, theirs = _pair(cell, dtype, bias=bias, num_layers=2, bidirectional=True)
    x = torch.randn(LENGTH, 7, INPUT, dtype=dtype)
    assert_same_as_torch(ours, theirs, x, states(cell, 4, 7, dtype), TOL[dtype])
    assert len(fused_calls) == 4 and split and min(split) >= 2  # every call forward and backward was split


@pytest.mark.parametrize("cell", ["rnn_tanh", "rnn_relu"])
def test_rnn_split_over_threads_with_variable_lengths_matches_torch(cell, split, fused_calls):
    """Packed rows ending at different steps, each part with rows that end early and rows that do not."""
    ours, theirs = _pair(cell, torch.float64, num_layers=2, bidirectional=True)
    lengths = torch.tensor([2, 5, 1, 4, 5, 3, 1, 5, 4])
    padded = torch.randn(LENGTH, len(lengths), INPUT, dtype=torch.float64)
    hx = states(cell, 4, len(lengths), torch.float64)
    results = []
    for layer in (ours, theirs):
        x, h = padded.clone().requires_grad_(), clone(hx)
        out, hn = layer(pack_padded_sequence(x, lengths, enforce_sorted=False), h)
        ((out.data ** 2).sum() + (hn ** 3).sum()).backward()
        results.append([out.data, hn, x.grad, h.grad, *(p.grad for p in layer.parameters())])
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)
    assert len(fused_calls) == 4 and min(split) >= 2


@pytest.mark.parametrize("broadcast", ["time", "batch", "both"])
def test_rnn_split_over_threads_reads_a_broadcast_gradient(broadcast, split, fused_calls):
    """An incoming gradient broadcast along time, the batch or both (``out.sum()``) read by every part."""
    ours, theirs = _pair("rnn_tanh", torch.float64)
    x = torch.randn(LENGTH, 6, INPUT, dtype=torch.float64)
    shape = {"time": (1, 6, 4), "batch": (LENGTH, 1, 4), "both": (1, 1, 1)}[broadcast]
    weight = torch.randn(shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    _assert_weighted_gradients_match(ours, theirs, x, weight)
    assert len(fused_calls) == 1 and min(split) >= 2


def test_rnn_split_over_three_threads_matches_one(split):
    """Three parts of an 8-row batch (2, 3 and 3 rows) give what one thread gives, output and gradients."""
    torch.set_num_threads(3)
    ours, theirs = _pair("rnn_tanh", torch.float64)
    x = torch.randn(LENGTH, 8, INPUT, dtype=torch.float64)
    assert_same_as_torch(ours, theirs, x, states("rnn_tanh", 1, 8, torch.float64), 1e-10)
    assert set(split) == {3}


def test_rnn_runs_on_one_thread_without_an_openmp_team(monkeypatch, fused_calls):
    """Where torch's OpenMP entry points are not found, the kernels run the whole batch on the calling
    thread, with the same results."""
    monkeypatch.setattr(fused_cpu, "PART_MIN_ROWS", 1)
    monkeypatch.setattr(fused_cpu, "PART_MIN_WORK", 1)
    monkeypatch.setitem(fused_cpu._ADDRESSES, "team", (0, 0, 0))
    fused_cpu._kernels()
    ours, theirs = _pair("rnn_tanh", torch.float64)
    assert fused_cpu._rnn_team(torch.empty(0, dtype=torch.float64), 8, 4)[-1] == 1
    x = torch.randn(LENGTH, 8, INPUT, dtype=torch.float64)
    assert_same_as_torch(ours, theirs, x, states("rnn_tanh", 1, 8, torch.float64), 1e-10)
    assert fused_calls


def test_which_batches_are_split_over_threads(monkeypatch):
    """Split where each part keeps 8 rows and 32 × 20 × 20 multiply-adds a step, over at most torch's
    threads; never on one thread."""
    from rnnlab.engines.fused import team

    if not team.team_addresses()[0]:
        pytest.skip("torch on this platform runs on no GNU-compatible OpenMP runtime")
    fused_cpu._kernels()
    like = torch.empty(0)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    assert fused_cpu._rnn_team(like, 64, 64)[-1] == 2  # issue 7's hidden 64 × batch 64
    assert fused_cpu._rnn_team(like, 16, 256)[-1] == 2
    assert fused_cpu._rnn_team(like, 16, 64)[-1] == 2
    assert fused_cpu._rnn_team(like, 64, 20)[-1] == 2  # 32 rows × 20 × 20 a part
    assert fused_cpu._rnn_team(like, 32, 20)[-1] == 1  # 16 rows × 20 × 20: too little work
    assert fused_cpu._rnn_team(like, 8, 512)[-1] == 1  # fewer than 8 rows a part
    monkeypatch.setattr(torch, "get_num_threads", lambda: 8)
    assert fused_cpu._rnn_team(like, 256, 256)[-1] == 8
    assert fused_cpu._rnn_team(like, 64, 64)[-1] == 8  # 8 rows × 64 × 64 a part
    assert fused_cpu._rnn_team(like, 64, 20)[-1] == 2
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    assert fused_cpu._rnn_team(like, 256, 256)[-1] == 1


def test_openmp_entry_points_are_found_in_torch_and_can_be_switched_off(monkeypatch):
    """torch's Linux wheels run on GNU OpenMP, so the split path is tested there (the split tests would
    otherwise skip); ``RNNLAB_FUSED_THREADS=0`` turns it off."""
    import platform
    import sys

    from rnnlab.engines.fused import team

    if sys.platform == "linux" and platform.machine() == "x86_64":
        assert all(team.team_addresses.__wrapped__())
    monkeypatch.setenv("RNNLAB_FUSED_THREADS", "0")
    assert team.team_addresses.__wrapped__() == (0, 0, 0)
