"""The worker boundary: limits, crashes and what may come back."""
from pathlib import Path

import numpy as np
import pytest

from grader.sandbox import wire
from grader.sandbox.runner import Call, Limits, run_worker

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


# --------------------------------------------------------------------------- pre-started workers
POOL_LAYER = """import numpy as np, os, subprocess

class Echo:
    def forward(self, x, params, *, train=False, rng=None, state=None):
        step = int(x.flat[0])
        if step == 0:  # leave a process, a file and module state behind
            subprocess.Popen(['sleep', '60'])
            open('/tmp/left', 'w').write('x')
            np.STOLEN = 1
            return x, None
        if step == 1:  # what is left?
            procs = [p for p in os.listdir('/proc') if p.isdigit()
                     and open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()[0] != 'Z']  # killed, not yet reaped
            return np.array([len(procs), os.path.exists('/tmp/left'), hasattr(np, 'STOLEN')], float), None
        if step == 2:
            while True:
                pass
        return x * 3, None

    def backward(self, dy, cache):
        return dy, {}
"""


def _pool_run(pool, folder, step, timeout=10):
    x = np.full((2, 3), float(step))
    return pool.run(folder, [Call("layer", LAYER, {"x": x, "dy": x})], Limits(timeout_s=timeout))


def test_prestarted_items_are_isolated_from_each_other(tmp_path):
    """Each item runs in a fresh child: what one item starts, writes to /tmp or keeps in module
    state is gone for the next item of the same submission."""
    from grader.sandbox.runner import WorkerPool, sandbox_problem
    if sandbox_problem():
        pytest.skip(sandbox_problem())
    (tmp_path / "layers.py").write_text(POOL_LAYER)
    pool = WorkerPool()
    try:
        first = _pool_run(pool, tmp_path, 0)
        assert first.status == "ok", first.message + first.stdout
        second = _pool_run(pool, tmp_path, 1)
        assert second.status == "ok", second.message
        # init (bwrap), the pre-started worker and this item's child: nothing else
        assert second.outputs[0]["0"]["y"].tolist() == [3.0, 0.0, 0.0]
        assert _pool_run(pool, tmp_path, 2, timeout=2).status == "timeout"
        fourth = _pool_run(pool, tmp_path, 3)  # a fresh worker after the timeout
        assert fourth.status == "ok" and fourth.outputs[0]["0"]["y"].tolist() == [[9.0] * 3] * 2
    finally:
        pool.close()


def test_prestarted_and_per_item_workers_give_the_same_scores(tmp_path):
    import importlib.util
    from grader import engine
    spec = importlib.util.spec_from_file_location("h", Path(__file__).resolve().parents[1] / "submissions" / "harness.py")
    harness = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(harness)
    bugs = harness.load("bugs", "mlp")[:3]
    folders = [harness.build(b, tmp_path / b.name, "mlp") for b in bugs]
    only = sorted(set().union(*(b.affects for b in bugs)))
    runs = [engine.grade_many("mlp", folders, opts=engine.Options(prestart=p), jobs=2, only=only) for p in (True, False)]
    scores = [[[(i.id, i.score, i.status) for i in r.items] for r in reports] for reports in runs]
    assert scores[0] == scores[1]
