"""reference/init.py: shapes, dtypes, determinism and the statistics of large draws."""
import numpy as np
import pytest

from reference import init
from reference.layers import Linear

from .helpers import assert_close

INITS = pytest.mark.parametrize("fn", [init.xavier_uniform, init.he_normal], ids=lambda f: f.__name__)


@INITS
@pytest.mark.parametrize("shape", [(1, 1), (3, 7)], ids=["1x1", "3x7"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_shape_dtype_determinism(fn, shape, dtype):
    w = fn(*shape, rng=np.random.default_rng(0), dtype=dtype)
    assert (w.shape, w.dtype) == (shape, dtype)
    assert np.array_equal(w, fn(*shape, rng=np.random.default_rng(0), dtype=dtype))
    assert not np.array_equal(w, fn(*shape, rng=np.random.default_rng(1), dtype=dtype))


@pytest.mark.parametrize("fan_in, fan_out", [(600, 400), (100, 1500)], ids=["600x400", "100x1500"])
def test_xavier_uniform_statistics(fan_in, fan_out):
    w = init.xavier_uniform(fan_in, fan_out, rng=np.random.default_rng(0))
    a = np.sqrt(6 / (fan_in + fan_out))
    assert np.abs(w).max() <= a and np.abs(w).max() > 0.99 * a, "not U(-a, a)"
    assert abs(w.mean()) < 0.01 * a
    assert_close(w.var(), a * a / 3, 0.03, 0, "variance of U(-a, a)")


@pytest.mark.parametrize("fan_in, fan_out", [(600, 400), (100, 1500)], ids=["600x400", "100x1500"])
def test_he_normal_statistics(fan_in, fan_out):
    w = init.he_normal(fan_in, fan_out, rng=np.random.default_rng(0))
    assert abs(w.mean()) < 0.01 * np.sqrt(2 / fan_in)
    assert_close(w.var(), 2 / fan_in, 0.03, 0, "variance 2 / fan_in")
    assert abs((w ** 4).mean() / w.var() ** 2 - 3) < 0.1, "not normal (kurtosis)"


def test_linear_init_params_uses_he_normal_and_zero_bias():
    params = Linear(in_features=500, out_features=300).init_params(np.random.default_rng(0))
    assert (params["W"].shape, params["b"].shape) == ((500, 300), (300,))
    assert params["W"].dtype == params["b"].dtype == np.float64
    assert_close(params["W"].var(), 2 / 500, 0.03, 0, "Var W")
    assert_close(params["b"], np.zeros(300), 0, 0, "b")
