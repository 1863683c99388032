"""reference/parallel.py: layers split into shares of samples on threads give the one-thread results,
and BLAS gets its thread count back."""
import os
import threading
import warnings

import numpy as np
import pytest

from reference import conv as C
from reference import layers as L
from reference import parallel

from .helpers import assert_close, make_inputs, run
from .test_conv import BN, CONV, POOL, conv


@pytest.fixture
def shares(monkeypatch):
    """Every call split into shares on two threads, however small; returns a function that runs
    its argument once split and once in one thread."""
    monkeypatch.setattr(parallel, "THREADS", 2)
    if not parallel.enabled():
        pytest.skip("needs threadpoolctl and a BLAS it can drive")

    def both(fn):
        monkeypatch.setattr(parallel, "MIN_BYTES", 1 << 62)
        serial = fn()
        monkeypatch.setattr(parallel, "MIN_BYTES", 0)
        return serial, fn()
    return both


def blas_threads():
    from threadpoolctl import threadpool_info
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def case(name, layer, shape, train=False):
    return pytest.param(layer, shape, train, id=f"{name}-{'x'.join(map(str, shape))}")


MORE = [  # batches of several samples: four shares of one or more samples each
    case("conv-c16-full-dx", conv(16, 3, 3, 1, 1), (5, 16, 6, 6)),
    case("conv-col2im-s2", conv(3, 4, 3, 2, 1), (7, 3, 9, 9)),
    case("conv-c16-s2-col2im", conv(16, 3, 3, 2, 1), (6, 16, 7, 7)),
    case("maxpool-2x2", C.MaxPool2d(kernel_size=2), (5, 3, 6, 6)),
    case("maxpool-3x3-s2-overlap", C.MaxPool2d(kernel_size=3, stride=2), (5, 2, 7, 9)),
    case("batchnorm2d-train", C.BatchNorm2d(num_features=3), (5, 3, 4, 4), train=True),
    case("batchnorm2d-eval", C.BatchNorm2d(num_features=3), (5, 3, 4, 4)),
    case("linear", L.Linear(in_features=7, out_features=3), (9, 7)),
    case("relu", L.ReLU(), (5, 3, 4, 4)),
    case("relu-2d", L.ReLU(), (9, 6)),
]
SEQUENTIAL = L.Sequential(layers=[
    conv(3, 16, 3, 1, 1), C.BatchNorm2d(num_features=16), L.ReLU(), C.MaxPool2d(kernel_size=2),
    conv(16, 16, 3, 1, 1), C.BatchNorm2d(num_features=16), L.ReLU(), C.MaxPool2d(kernel_size=2),
    L.Flatten(), L.Linear(in_features=16 * 2 * 2, out_features=5)])


def forward_backward(layer, x, params, state, train):
    y, cache = run(layer, x, params, state, train)
    dy = np.random.default_rng(1).standard_normal(y.shape).astype(x.dtype)
    dx, grads = layer.backward(dy, cache)
    return y, dx, grads


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("layer, shape, train", [pytest.param(*c.values[:3], id=c.id) for c in CONV + POOL + BN] + MORE)
def test_shares_give_the_one_thread_results(shares, layer, shape, train, dtype):
    x, params, state = make_inputs(layer, shape, dtype=dtype)
    one, split = shares(lambda: forward_backward(layer, x, params, state, train))
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for name, a, b in [("y", one[0], split[0]), ("dx", one[1], split[1])] + \
            [(f"d{k}", one[2][k], split[2][k]) for k in one[2]]:
        assert a.dtype == b.dtype and a.strides == b.strides, name
        assert_close(b, a, tol, tol, name)


def test_shares_in_a_network_and_its_running_statistics(shares):
    rng = np.random.default_rng(0)
    params = SEQUENTIAL.init_params(rng)
    x = rng.standard_normal((6, 3, 8, 8))

    def step():
        state = SEQUENTIAL.init_state()
        y, cache = SEQUENTIAL.forward(x, params, train=True, state=state)
        dx, grads = SEQUENTIAL.backward(np.random.default_rng(1).standard_normal(y.shape), cache)
        return y, dx, grads, state
    one, split = shares(step)
    assert_close(split[0], one[0], 1e-12, 1e-12, "y")
    assert_close(split[1], one[1], 1e-12, 1e-12, "dx")
    for i, (g1, g2, s1, s2) in enumerate(zip(one[2], split[2], one[3], split[3])):
        for k in g1:
            assert_close(g2[k], g1[k], 1e-12, 1e-12, f"layer {i} d{k}")
        for k in s1:
            assert_close(s2[k], s1[k], 1e-12, 1e-12, f"layer {i} {k}")


def test_blas_runs_single_threaded_in_a_region_and_gets_its_threads_back(shares):
    before = blas_threads()
    with parallel.region():
        assert blas_threads() == [1] * len(before)
        with parallel.region():  # re-entrant
            assert parallel.single_blas()
        assert blas_threads() == [1] * len(before)
    assert blas_threads() == before


def test_regions_in_several_threads(shares):
    """BLAS stays single-threaded until the last region, in any thread, is left."""
    before = blas_threads()
    inside, leave = threading.Barrier(3), threading.Event()
    seen = []

    def worker():
        with parallel.region():
            inside.wait()
            leave.wait()
            seen.append(blas_threads())
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    inside.wait()
    leave.set()
    for t in threads:
        t.join()
    assert seen == [[1] * len(before)] * 2
    assert blas_threads() == before


def test_an_error_in_a_share_reaches_the_caller(shares):
    before = blas_threads()
    parallel.MIN_BYTES = 0
    calls = []

    def work(n0, n1):
        calls.append((n0, n1))
        if n0 > 0:
            raise RuntimeError(f"share {n0}")
        return n0
    with pytest.raises(RuntimeError, match="share"):
        parallel.shares(np, 8, 1, work)
    assert blas_threads() == before and not parallel.single_blas()
    assert parallel.shares(np, 8, 1, lambda n0, n1: (n0, n1)) == [(0, 2), (2, 4), (4, 6), (6, 8)]


def test_shares_in_a_forked_child(shares):
    """A child forked after the pool started gets a pool of its own (the parent's threads are gone)."""
    layer, (x, params, _) = conv(16, 4, 3, 1, 1), make_inputs(conv(16, 4, 3, 1, 1), (4, 16, 5, 5))
    y, _ = layer.forward(x, params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork() with threads running
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            ok = np.allclose(layer.forward(x, params)[0], y, rtol=1e-12, atol=1e-12)
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


class _Probe(L.Layer):
    """Records BLAS's thread count when it runs."""
    seen = []

    def forward(self, x, params, *, train=False, rng=None, state=None):
        self.seen.append(blas_threads())
        return x, None

    def backward(self, dy, cache):
        return dy, {}


class _SafeProbe(_Probe):
    pass


def test_sequential_keeps_blas_threads_for_layers_not_region_safe(shares, monkeypatch):
    """A chain with a layer of another type (a recurrent layer, a subclass) keeps BLAS's threads;
    a chain of REGION_SAFE layers runs single-threaded."""
    monkeypatch.setattr(L, "REGION_SAFE", L.REGION_SAFE | {_SafeProbe})
    before = blas_threads()
    x = np.ones((2, 3))
    _Probe.seen = []
    L.Sequential(layers=[L.ReLU(), _Probe()]).forward(x, [{}, {}])
    L.Sequential(layers=[L.ReLU(), _SafeProbe()]).forward(x, [{}, {}])
    assert _Probe.seen == [before, [1] * len(before)]


def test_shares_without_a_thread_to_spare(shares, monkeypatch):
    """Where no thread can be started (a process limit), the calling thread computes every share."""
    class NoThreads:
        def submit(self, fn):
            raise RuntimeError("can't start new thread")
    monkeypatch.setattr(parallel, "MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "_pool", NoThreads)
    layer = conv(16, 4, 3, 1, 1)
    x, params, _ = make_inputs(layer, (5, 16, 6, 6))
    y, _ = layer.forward(x, params)
    monkeypatch.setattr(parallel, "MIN_BYTES", 1 << 62)
    assert_close(y, layer.forward(x, params)[0], 1e-12, 1e-12, "y")
