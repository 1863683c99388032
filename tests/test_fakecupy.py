"""The CPU stand-in for CuPy (tests/fakecupy) refuses what real CuPy refuses, so that a test
passing on it means the code took the CuPy paths without touching NumPy implicitly.

Each refusal below is one real CuPy makes (cupy/_core/core.pyx: `__array__`,
`__array_ufunc__`, `__array_function__`; `_scatter_op`; `ufunc.at`); the known-good lines are
what the references rely on.
"""
import copy

import numpy as np
import pytest

from tests.devices import fake_cupy


@pytest.fixture
def cp():
    with fake_cupy() as module:
        yield module


def a(cp):
    return cp.asarray(np.arange(6.0).reshape(2, 3))


REFUSED = [
    ("implicit np.asarray", lambda cp: np.asarray(a(cp)), TypeError),
    ("device + host array", lambda cp: a(cp) + np.ones(3), TypeError),
    ("host array + device", lambda cp: np.ones(3) + a(cp), TypeError),
    ("np ufunc with a host operand", lambda cp: np.maximum(a(cp), np.zeros(3)), TypeError),
    ("device function with a host array", lambda cp: cp.concatenate([a(cp), np.ones((1, 3))]), TypeError),
    ("host out=", lambda cp: cp.add(a(cp), 1, out=np.empty((2, 3))), TypeError),
    ("assigning a host array", lambda cp: a(cp).__setitem__(0, np.ones(3)), ValueError),
    ("numpy's as_strided (no dispatch)", lambda cp: np.lib.stride_tricks.as_strided(a(cp), (2, 2), (8, 8)), TypeError),
    ("np.multiply.at (CuPy: add/subtract/max/min/bitwise only)", lambda cp: np.multiply.at(a(cp), [0], 2.0),
     NotImplementedError),
    ("np.maximum.reduce (CuPy: add/multiply only)", lambda cp: np.maximum.reduce(a(cp)), NotImplementedError),
    ("a NumPy function CuPy lacks", lambda cp: np.insert(a(cp), 0, 1.0), TypeError),
    ("Generator.choice (not in CuPy)", lambda cp: cp.random.default_rng(0).choice(3), AttributeError),
    ("Generator.permutation (not in CuPy)", lambda cp: cp.random.default_rng(0).permutation(3), AttributeError),
    ("a 0-d array as a Python index", lambda cp: list(range(5))[a(cp).sum().astype(int)], TypeError),
    ("np.frombuffer (no host buffer)", lambda cp: np.frombuffer(a(cp)), TypeError),
    ("einsum out= (CuPy takes dtype and optimize only)", lambda cp: cp.einsum("ij->i", a(cp), out=cp.zeros(2)),
     TypeError),
    ("an ndarray method CuPy lacks", lambda cp: a(cp).resize((3, 2)), AttributeError),
]


@pytest.mark.parametrize("what, fn, error", REFUSED, ids=[r[0] for r in REFUSED])
def test_refuses_what_cupy_refuses(cp, what, fn, error):
    with pytest.raises(error):
        fn(cp)


def test_accepts_what_cupy_accepts(cp):
    x = a(cp)
    assert type(np.exp(x)) is cp.ndarray and type(np.concatenate([x, x])) is cp.ndarray  # NEP 13/18 dispatch
    assert type(np.lib.stride_tricks.sliding_window_view(x, 2, axis=1)) is cp.ndarray
    assert type(cp.lib.stride_tricks.as_strided(x, (2, 2), x.strides)) is cp.ndarray
    s = x.sum()
    assert type(s) is cp.ndarray and s.shape == () and float(s) == 15.0 and bool(s > 0)  # 0-d, not a scalar
    assert type(x[0, 1]) is cp.ndarray and x[np.array([1, 0])].shape == (2, 3)  # host index arrays are fine
    y = x.copy()
    y[0] = 7.0
    y[1] = x[0]
    np.add.at(y, ([0, 0], [1, 1]), 1.0)
    assert y.get()[0, 1] == 9.0 and y.get()[1].tolist() == [0.0, 1.0, 2.0]
    assert cp.asarray(x) is x and type(copy.deepcopy(x)) is cp.ndarray
    assert cp.get_array_module(x) is cp and cp.get_array_module(np.ones(1)) is np
    assert type(x.get()) is np.ndarray and type(cp.asnumpy(x)) is np.ndarray
    assert (np.float32(2) * x).dtype == np.float64 and (x.astype(np.float32) * 2.0).dtype == np.float32
    cp.cuda.Device().synchronize()
    assert cp.cuda.runtime.getDeviceCount() == 1 and cp.__fake__


def test_random_streams_differ_from_numpy(cp):
    ours, numpy_ = cp.random.default_rng(0).random(5), np.random.default_rng(0).random(5)
    assert type(ours) is cp.ndarray and not np.allclose(ours.get(), numpy_)
    assert np.array_equal(cp.random.default_rng(0).random(5).get(), ours.get())


def test_a_numpy_only_layer_fails(cp):
    """Known bad: a layer that allocates with np.zeros breaks on device inputs, as on a GPU."""
    def forward(x):
        out = np.zeros(x.shape)
        out[...] = x * 2
        return out

    def forward_xp(x):
        out = cp.get_array_module(x).zeros(x.shape)
        out[...] = x * 2
        return out
    with pytest.raises((TypeError, ValueError)):
        forward(a(cp))
    assert type(forward_xp(a(cp))) is cp.ndarray
