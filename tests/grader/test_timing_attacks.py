"""Attacks on the speed items: each takes slow but correct Conv2d code (the textbook loops over
every output value, zero speed credit) and tries to look fast: a patched clock, memoised outputs, extra threads, a
sabotaged yardstick, a reply sent before the work. None earns speed credit, because the parent
measures the worker's CPU time from the kernel, sends fresh inputs every run and checks every
run's output against the reference, which runs in a worker of its own."""
import importlib.util
from pathlib import Path

import pytest

from grader import engine
from grader.sandbox import runner

_spec = importlib.util.spec_from_file_location(
    "submissions_harness", Path(__file__).resolve().parents[1] / "submissions" / "harness.py")
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

ITEM = "cnn.conv.speed.forward"
SLOW = next(s for s in harness.load("speed", "cnn") if s.name == "naive_loops")

ATTACKS = {
    "patched_clocks": "import time\nfor _n in ('perf_counter', 'monotonic', 'time', 'process_time', 'thread_time'):\n"
                      "    setattr(time, _n, lambda: 0.0)\n"
                      "    setattr(time, _n + '_ns', lambda: 0)\n",
    "memoise_by_identity": "_memo = {}\n_slow = Conv2d.forward\n"
                           "def _fwd(self, x, params, **k):\n"
                           "    if id(x) not in _memo: _memo[id(x)] = _slow(self, x, params, **k)\n"
                           "    return _memo[id(x)]\n"
                           "Conv2d.forward = _fwd\n",
    "memoise_by_hash": "import hashlib\n_memo = {}\n_slow = Conv2d.forward\n"
                       "def _fwd(self, x, params, **k):\n"
                       "    h = hashlib.md5(x.tobytes()).hexdigest()\n"
                       "    if h not in _memo: _memo[h] = _slow(self, x, params, **k)\n"
                       "    return _memo[h]\n"
                       "Conv2d.forward = _fwd\n",
    "stale_output": "_last = {}\n_slow = Conv2d.forward\n"
                    "def _fwd(self, x, params, **k):\n"
                    "    if x.shape in _last: return _last[x.shape]\n"
                    "    _last[x.shape] = _slow(self, x, params, **k)\n"
                    "    return _last[x.shape]\n"
                    "Conv2d.forward = _fwd\n",
    "threads": "import threading\n_slow = Conv2d.forward\n"
               "def _fwd(self, x, params, **k):\n"
               "    half = len(x) // 2; out = [None, None]\n"
               "    def run(i, part): out[i] = _slow(self, part, params, **k)[0]\n"
               "    ts = [threading.Thread(target=run, args=(0, x[:half])), threading.Thread(target=run, args=(1, x[half:]))]\n"
               "    [t.start() for t in ts]; [t.join() for t in ts]\n"
               "    return np.concatenate(out), None\n"
               "Conv2d.forward = _fwd\n",
    "fork_helpers": "import os\n_slow = Conv2d.forward\n"
                    "def _fwd(self, x, params, **k):\n"
                    "    pid = os.fork()\n"
                    "    if pid == 0:\n        _slow(self, x, params, **k); os._exit(0)\n"
                    "    os.waitpid(pid, 0)\n"
                    "    return _slow(self, x, params, **k)\n"
                    "Conv2d.forward = _fwd\n",
    "slow_the_yardstick": "import gc, sys, time\n"
                          "for _o in list(gc.get_objects()):\n"
                          "    if isinstance(_o, type) and _o.__name__ == 'Conv2d' and _o is not Conv2d:\n"
                          "        _f = _o.forward\n"
                          "        _o.forward = lambda self, *a, _f=_f, **k: (time.sleep(0.5), _f(self, *a, **k))[1]\n"
                          "for _m in list(sys.modules):\n"
                          "    if 'ref' in _m and hasattr(sys.modules[_m], 'Conv2d'):\n"
                          "        sys.modules[_m].Conv2d.forward = lambda *a, **k: time.sleep(0.5)\n",
    "reply_before_the_work": "import json as _json, os as _os, sys as _sys\n_slow = Conv2d.forward\n"
                             "def _fwd(self, x, params, **k):\n"
                             "    y = np.zeros((x.shape[0], params['W'].shape[0]) + x.shape[2:], x.dtype)\n"
                             "    meta = _json.dumps({'status': 'ok', 'types': {}, 'arrays': [['y', y.dtype.str, list(y.shape)]]}).encode()\n"
                             "    body = y.tobytes()\n"
                             "    _os.write(int(_sys.argv[1]), b'DLG2' + len(meta).to_bytes(8, 'little') + len(body).to_bytes(8, 'little') + meta + body)\n"
                             "    return _slow(self, x, params, **k)\n"
                             "Conv2d.forward = _fwd\n",
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    if runner.sandbox_problem():
        pytest.skip(runner.sandbox_problem())
    root = tmp_path_factory.mktemp("timing_attacks")
    folders = [harness.copy_solution(root / "answer_key", "cnn")]
    for name, code in ATTACKS.items():
        folder = harness.build(SLOW, root / name, "cnn")
        with open(folder / "conv.py", "a") as f:
            f.write("\n\n# ---- attack\n" + code)
        folders.append(folder)
    reports = engine.grade_many("cnn", folders, jobs=1, only=[ITEM])
    return dict(zip(["answer_key", *ATTACKS], (r.items[0] for r in reports)))


def test_the_answer_key_still_earns_speed_credit(graded):
    assert graded["answer_key"].score > 0, graded["answer_key"].output


@pytest.mark.parametrize("name", list(ATTACKS))
def test_timing_attack_earns_no_speed_credit(graded, name):
    item = graded[name]
    assert item.score == 0, f"{name}: {item.status} {item.output}"
