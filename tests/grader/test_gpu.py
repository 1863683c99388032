"""--device cuda: items run on CuPy inputs in the worker (skipped where there is no GPU, as in CI).

The answer keys are plain NumPy, as most students write them; this test grades a small
array-module-agnostic submission instead.
"""
import pytest

from grader import api
from reference.backend import cupy_available

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not cupy_available(), reason="needs CuPy and a CUDA device")]

AGNOSTIC = '''
import cupy


class Linear:
    def __init__(self, *, in_features, out_features):
        pass

    def forward(self, x, params, *, train=False, rng=None, state=None):
        return x @ params["W"] + params["b"], (x, params["W"])

    def backward(self, dy, cache):
        x, W = cache
        return dy @ W.T, {"W": x.T @ dy, "b": dy.sum(axis=0)}


class ReLU:
    def forward(self, x, params, *, train=False, rng=None, state=None):
        xp = cupy.get_array_module(x)
        return xp.maximum(x, 0), x > 0

    def backward(self, dy, cache):
        return dy * cache, {}
'''


def test_items_run_on_cupy_arrays(tmp_path):
    (tmp_path / "layers.py").write_text(AGNOSTIC)
    report = api.grade("mlp", tmp_path, opts=api.Options(device="cuda"), only=["mlp.linear", "mlp.relu"])
    failed = [f"{i.id}: {i.status}\n{i.output}" for i in report.items if i.status != "passed"]
    assert not failed, "\n".join(failed)
