"""The worker boundary: limits, crashes and what may come back."""
import numpy as np
import pytest

from grader import wire
from grader.runner import Call, Limits, run_worker

LAYER = {"module": "layers", "name": "Echo", "kwargs": {}, "steps": [{"x": "x", "dy": None, "train": False}]}


def submission(tmp_path, body):
    (tmp_path / "layers.py").write_text(
        "import numpy as np\n\nclass Echo:\n"
        "    def forward(self, x, params, *, train=False, rng=None, state=None):\n"
        f"        {body}\n"
        "    def backward(self, dy, cache):\n        return dy, {}\n")
    return tmp_path


def run(tmp_path, body, timeout=10):
    x = np.arange(6.0).reshape(2, 3)
    return run_worker(submission(tmp_path, body), [Call("layer", LAYER, {"x": x, "dy": x})], Limits(timeout_s=timeout))


def test_arrays_come_back(tmp_path):
    result = run(tmp_path, "return x * 2, None")
    assert result.status == "ok"
    assert np.array_equal(result.outputs[0]["0"]["y"], np.arange(6.0).reshape(2, 3) * 2)


@pytest.mark.parametrize("body, status, words", [
    ("raise NotImplementedError", "not_attempted", "NotImplementedError"),
    ("return 1 / 0, None", "error", "ZeroDivisionError"),
    ("import os; os._exit(0)", "crashed", "before reporting"),
    ("import sys; sys.exit(0)", "error", "SystemExit"),
    ("import reference.layers", "error", "may not import 'reference"),
    ("import torch", "error", "may not import 'torch'"),
    ("return np.ones(50 * 2**30 // 8), None", "error", "MemoryError"),
    ("while True: pass", "timeout", "timed out"),
], ids=["not-attempted", "exception", "os-exit", "sys-exit", "import-reference", "import-torch", "memory", "loop"])
def test_failures_are_contained(tmp_path, body, status, words):
    result = run(tmp_path, body, timeout=3)
    assert result.status == status
    assert words in result.message


def test_output_flood_is_capped(tmp_path):
    result = run(tmp_path, "[print('x' * 10**6) for _ in range(1000)]; return x, None")
    assert result.status == "error" and "File too large" in result.message
    assert len(result.stdout) < 5000


def test_non_arrays_are_reported_by_type(tmp_path):
    result = run(tmp_path, "return x.tolist(), None")
    assert result.status == "ok" and result.types[0]["0/y"] == "list"


def test_wire_refuses_pickles(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, x=np.array([object()], dtype=object))
    with pytest.raises(ValueError):
        wire.load(path)


def test_worker_cannot_see_the_reference_or_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DLGRADE_SECRET", "s3cret")
    result = run(tmp_path, "import os, sys; return np.array([float('DLGRADE_SECRET' in os.environ), "
                           "float(any('dlgrade-' in p and 'sub' not in p for p in sys.path))]), None")
    assert result.status == "ok"
    assert result.outputs[0]["0"]["y"].tolist() == [0.0, 0.0]
