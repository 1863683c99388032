"""Real attacks on the grader, run the way a motivated student would, through `dlgrade grade`.

Each attack in ``STEAL``, ``FORGE`` and ``DISRUPT`` is a snippet put into a submission and graded
in one batch with the real command line (`-j 2`, a short `--timeout`), each attack followed by
a copy of the answer key:

- ``STEAL``: the unfinished stub plus code that tries to get the answer key's `layers.py` by one
  route and, if it can, uses the stolen `Linear`. Gaining nothing means scoring 0 on
  `mlp.linear.*`. A control batch without the sandbox (`--no-sandbox`) shows that the routes
  the in-process guards cannot see really work: they fetch the answer key there.
- ``FORGE``: the stub plus code that writes its own reply to the parent or prints a fake
  verdict: 0 points.
- ``DISRUPT``: the answer key plus code that attacks the grader, classmates or the machine
  (kills, daemons, fork bombs, floods, persistence into the next run): the grader finishes,
  every answer-key copy in the batch keeps full marks, and afterwards no process of a worker
  uid is left and nothing changed in the repository, the virtual environment or `/tmp`.

Timing attacks (patched timers, memoisation, threads) are in ``test_timing_attacks`` on the conv
speed item; precomputing hidden inputs from the public code in ``test_public_salt_*``.
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from grader import engine
from grader.sandbox import runner

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = ROOT / "solutions" / "mlp" / "layers.py"
STUB = ROOT / "assignments" / "mlp"
ITEMS = ("mlp.linear.forward", "mlp.linear.backward")
TIMEOUT = "6"
MARK = "dlgrade_attack_marker"
VENV_SITE = Path(np.__file__).resolve().parents[1]

# --------------------------------------------------------------------------- stealing the answer key
# The body of `_steal()`: returns the text of the answer key's layers.py, or raises.
STEAL = {
    "open_by_path": f"return open({str(SOLUTION)!r}).read()",
    "proc_self_root": f"return open('/proc/self/root' + {str(SOLUTION)!r}).read()",
    "subprocess_cp": f"import subprocess; subprocess.run(['cp', {str(SOLUTION)!r}, '/tmp/x.py'], check=True); "
                     "return open('/tmp/x.py').read()",
    "subprocess_cat": f"import subprocess; return subprocess.run(['cat', {str(SOLUTION)!r}], capture_output=True, "
                      "check=True, text=True).stdout",
    "shell_cat": f"import os; return os.popen('cat {SOLUTION}').read() or 1/0",
    "os_open_dir_fd": f"import os; d = os.open({str(SOLUTION.parent)!r}, os.O_RDONLY); "
                      "fd = os.open('layers.py', os.O_RDONLY, dir_fd=d); return os.read(fd, 10**6).decode()",
    "os_link": f"import os; os.link({str(SOLUTION)!r}, '/tmp/l.py'); return open('/tmp/l.py').read()",
    "symlink_at_run_time": f"import os; os.symlink({str(SOLUTION)!r}, '/tmp/s.py'); return open('/tmp/s.py').read()",
    "ctypes_open": "import ctypes, os; libc = ctypes.CDLL(None); "
                   f"fd = libc.open({str(SOLUTION).encode()!r}, 0); assert fd >= 0; return os.read(fd, 10**6).decode()",
    "io_fileio": f"import _io; return _io.FileIO({str(SOLUTION)!r}).read().decode()",
    "walk_filesystem": "import os\n"
                       "    for d, dirs, fs in os.walk('/'):\n"
                       "        dirs[:] = [x for x in dirs if d != '/' or x not in ('proc', 'sys', 'dev')]\n"
                       "        if 'layers.py' in fs and d != os.getcwd():\n"
                       "            try: t = open(os.path.join(d, 'layers.py')).read()\n"
                       "            except OSError: continue\n"
                       "            if 'BEGIN SOLUTION' in t: return t\n"
                       "    raise LookupError",
    "proc_parent_root": "import os\n"
                        "    for pid in os.listdir('/proc'):\n"
                        "        if pid.isdigit():\n"
                        f"            p = '/proc/' + pid + '/root' + {str(SOLUTION)!r}\n"
                        "            if os.path.exists(p): return open(p).read()\n"
                        "    raise LookupError",
    "proc_parent_cwd": "import os\n"
                       "    for pid in os.listdir('/proc'):\n"
                       "        if pid.isdigit() and os.path.exists(f'/proc/{pid}/cwd/solutions/mlp/layers.py'):\n"
                       "            return open(f'/proc/{pid}/cwd/solutions/mlp/layers.py').read()\n"
                       "    raise LookupError",
    "proc_environ_pwd": "import os\n"
                        "    for pid in os.listdir('/proc'):\n"
                        "        if pid.isdigit():\n"
                        "            try: env = open(f'/proc/{pid}/environ', 'rb').read().split(b'\\0')\n"
                        "            except OSError: continue\n"
                        "            for v in env:\n"
                        "                if v.startswith(b'PWD=') and os.path.exists(v[4:] + b'/solutions/mlp/layers.py'):\n"
                        "                    return os.popen('cat ' + v[4:].decode() + '/solutions/mlp/layers.py').read()\n"
                        "    raise LookupError",
    "proc_parent_mem": "import os, re\n"
                       "    for pid in os.listdir('/proc'):\n"
                       "        if pid.isdigit() and pid != str(os.getpid()):\n"
                       "            maps = open(f'/proc/{pid}/maps').read()\n"
                       "            mem = open(f'/proc/{pid}/mem', 'rb')\n"
                       "            for line in maps.splitlines():\n"
                       "                lo, hi = (int(v, 16) for v in line.split()[0].split('-'))\n"
                       "                mem.seek(lo); chunk = mem.read(hi - lo)\n"
                       "                i = chunk.find(b'class Linear(Layer)')\n"
                       "                if i >= 0 and b'NotImplementedError' not in chunk[i:i+3000]: return chunk[i:i+3000].decode()\n"
                       "    raise LookupError",
    "unblock_reference_import": "import sys; sys.meta_path[:] = [f for f in sys.meta_path if 'Blocker' not in type(f).__name__]; "
                                f"sys.path.append({str(ROOT)!r}); import reference.layers, inspect; "
                                "return inspect.getsource(reference.layers).replace('from .', 'from reference.')",
    "unblock_and_import_torch": "import sys; sys.meta_path[:] = [f for f in sys.meta_path if 'Blocker' not in type(f).__name__]; "
                                f"sys.path.append({str(VENV_SITE)!r}); import torch\n"
                                "    return ('import numpy as np, torch\\nclass Linear:\\n'\n"
                                "            '  def __init__(self, **k): pass\\n'\n"
                                "            '  def forward(self, x, p, **k):\\n    y = (torch.tensor(x) @ torch.tensor(p[\"W\"]) + torch.tensor(p[\"b\"])).numpy(); return y, (x, p)\\n'\n"
                                "            '  def backward(self, dy, c):\\n    x, p = c; return dy @ p[\"W\"].T, {\"W\": x.T @ dy, \"b\": dy.sum(0)}\\n')",
    "import_solutions_by_sys_path": f"import sys; sys.path.insert(0, {str(SOLUTION.parent)!r}); import importlib; "
                                    f"m = importlib.util.spec_from_file_location('k', {str(SOLUTION)!r}); "
                                    "return open(m.origin).read()",
    "loopback_tcp": "import socket; s = socket.create_connection(('127.0.0.1', 22), timeout=2); return s.recv(100).decode()",
    "network_dns": "import socket; socket.getaddrinfo('pypi.org', 443); raise LookupError",
    "read_git_objects": f"import os; return open({str(ROOT / '.git')!r}).read() and 1/0",
}
# --------------------------------------------------------------------------- forging the reply
FORGE_HEADER = """
import json as _json, os as _os, sys as _sys
def _frame(header):
    meta = _json.dumps({**header, "arrays": []}).encode()
    return b"DLG2" + len(meta).to_bytes(8, "little") + (0).to_bytes(8, "little") + meta
"""
FORGE = {
    "forged_ok_then_exit": "_os.write(int(_sys.argv[1]), _frame({'status': 'ok', 'calls': [{'types': {}}]})); _os._exit(0)",
    "forged_ok_then_continue": "_os.write(int(_sys.argv[1]), _frame({'status': 'ok', 'calls': [{'types': {}}]}))",
    "garbage_on_reply_pipe": "_os.write(int(_sys.argv[1]), b'\\x00' * 100000)",
    "close_reply_pipe": "_os.close(int(_sys.argv[1]))",
    "fake_verdict_on_stdout": "print(_json.dumps({'status': 'passed', 'score': 5, 'max_score': 5}))",
    "write_result_file_in_cwd": "open('result.json', 'w').write('{\"status\": \"ok\"}')",
    "ndarray_subclass_always_equal": (
        "import numpy as _np\n"
        "class _Liar(_np.ndarray):\n"
        "    def __eq__(self, o): return _np.ones(_np.shape(o), bool)\n"
        "    def __sub__(self, o): return _np.zeros(_np.shape(o))\n"
        "    __rsub__ = __sub__\n"
        "def _fwd(self, x, params, **k): return _np.zeros((x.shape[0], params['W'].shape[1])).view(_Liar), None\n"
        "def _bwd(self, dy, cache): return _np.zeros(1).view(_Liar), {'W': _np.zeros(1).view(_Liar), 'b': _np.zeros(1).view(_Liar)}\n"
        "Linear.forward, Linear.backward = _fwd, _bwd"),
    "lying_object_with_array": (
        "class _Lie:\n"
        "    shape = (4, 3); dtype = 'float64'\n"
        "    def __array__(self, *a, **k): raise RuntimeError('no')\n"
        "    def __eq__(self, o): return True\n"
        "def _fwd(self, x, params, **k): return _Lie(), None\n"
        "Linear.forward = _fwd"),
    "object_dtype_array": (
        "import numpy as _np\n"
        "def _fwd(self, x, params, **k): return _np.array([[object()]], dtype=object), None\n"
        "Linear.forward = _fwd"),
    "nan_everywhere": (
        "import numpy as _np\n"
        "def _fwd(self, x, params, **k): return _np.full((x.shape[0], params['W'].shape[1]), _np.nan), None\n"
        "Linear.forward = _fwd"),
}
# --------------------------------------------------------------------------- disrupting the grader
DISRUPT = {
    "kill_parent": "import os, signal; os.kill(os.getppid(), signal.SIGKILL)",
    "kill_everything": "import os, signal\ntry:\n    os.kill(-1, signal.SIGKILL)\nexcept OSError:\n    pass",
    "kill_every_pid": "import os, signal\nfor p in range(1, 1 << 16):\n    try: os.kill(p, signal.SIGKILL)\n    except OSError: pass",
    "double_fork_daemon": ("import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
                           f"        time.sleep(20); open('/tmp/{MARK}', 'w').write('x')\n        os._exit(0)\n    os._exit(0)"),
    "setsid_sleeper": "import subprocess; subprocess.Popen(['sleep', '60'], start_new_session=True)",
    "fork_bomb": "import os\nfor _ in range(10000):\n    try: os.fork()\n    except OSError: break",
    "thread_bomb": "import threading, time\nfor _ in range(10000):\n    try: threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n    except RuntimeError: break",
    "fill_tmp": "f = open('/tmp/fill', 'wb')\nfor _ in range(1000): f.write(b'x' * (1 << 20))",
    "fill_dev_shm": "f = open('/dev/shm/fill', 'wb')\nfor _ in range(1000): f.write(b'x' * (1 << 20))",
    "pth_into_site_packages": (f"import glob\nfor d in [{str(VENV_SITE)!r}] + glob.glob('/usr/lib/python3*/site-packages') + "
                               "glob.glob('/sandbox/site'):\n"
                               f"    open(d + '/{MARK}.pth', 'w').write('import os; os.system(\"touch /tmp/{MARK}\")')"),
    "pyc_into_reference_cache": (f"import os; os.makedirs({str(ROOT / 'reference' / '__pycache__')!r}, exist_ok=True); "
                                 f"open({str(ROOT / 'reference' / '__pycache__' / (MARK + '.pyc'))!r}, 'wb').write(b'x')"),
    "write_into_submission_copy": "open('layers.py', 'a').write('\\nraise SystemExit')",
    "write_home_rc": f"import os; open(os.path.expanduser('~/.bashrc'), 'a').write('touch /tmp/{MARK}')",
    "write_host_tmp": f"open('/tmp/{MARK}', 'w').write('x')",
    "write_other_submissions": ("import glob\nfor p in glob.glob('/tmp/dlgrade-*/**/layers.py', recursive=True):\n"
                                "    open(p, 'w').write('raise SystemExit')"),
    "raise_own_limits": "import resource; resource.setrlimit(resource.RLIMIT_AS, (-1, -1))",
    "setuid_root": "import os; os.setuid(0)",
    "os_exit_at_import": "import os; os._exit(0)",
    "sys_exit_at_import": "raise SystemExit(0)",
    "exception_at_import": "raise ImportError('boom')",
    "infinite_loop_at_import": "while True: pass",
    "segfault": "import ctypes; ctypes.string_at(0)",
    "deep_recursion": "import sys; sys.setrecursionlimit(10**7)\ndef f(n): return f(n + 1)\nf(0)",
    "memory_bomb": "x = bytearray(50 * 2**30)",
    "print_flood": "import sys\nfor _ in range(2000): sys.stdout.write('x' * 10**6)",
    "stderr_flood_and_close": "import os, sys\nsys.stderr.write('y' * 10**7); os.close(1); os.close(2)",
    "stdin_read": "import sys; sys.stdin.buffer.read()",
    "atexit_and_del": "import atexit, os; atexit.register(lambda: os.kill(os.getppid(), 9))",
    "sigterm_ignored_busy": "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True: pass",
}
N_ATTACKS = len(STEAL) + len(FORGE) + len(DISRUPT)


def _stub(dest: Path) -> Path:
    dest.mkdir(parents=True)
    for src in sorted(STUB.glob("*.py")):
        (dest / src.name).write_bytes(src.read_bytes())
    return dest


def _answer_key(dest: Path) -> Path:
    dest.mkdir(parents=True)
    for src in sorted(SOLUTION.parent.glob("*.py")):
        (dest / src.name).write_bytes(src.resolve().read_bytes())
    return dest


def _append(folder: Path, code: str):
    with open(folder / "layers.py", "a") as f:
        f.write("\n\n# ---- attack\n" + code + "\n")


def steal_code(body):
    return (f"def _steal():\n    {body}\n"
            "try:\n"
            "    _ns = {'__name__': 'stolen'}\n"
            "    exec(compile(_steal(), 'stolen', 'exec'), _ns)\n"
            "    Linear = _ns['Linear']\n"
            "except BaseException:\n"
            "    pass\n")


def disrupt_code(body):  # at import time, and again inside Linear.forward
    indented = "\n".join("        " + line for line in body.splitlines())
    return (f"def _attack():\n    try:\n{indented}\n    except Exception:\n        pass\n"
            "_attack()\n"
            "_forward = Linear.forward\n"
            "def _fwd(self, *a, **k):\n    _attack()\n    return _forward(self, *a, **k)\n"
            "Linear.forward = _fwd\n")


def build_batch(root: Path):
    """[(name, kind, folder)]: every attack followed by an answer-key copy (kind "canary")."""
    batch = []
    for kind, attacks in (("steal", STEAL), ("forge", FORGE), ("disrupt", DISRUPT)):
        for name, body in attacks.items():
            folder = (_stub if kind != "disrupt" else _answer_key)(root / name)
            if kind == "steal":
                _append(folder, steal_code(body))
            elif kind == "forge":
                _append(folder, FORGE_HEADER + body)
            elif name.endswith("_at_import") or name in ("infinite_loop_at_import",):
                _append(folder, body)
            else:
                _append(folder, disrupt_code(body))
            batch.append((name, kind, folder))
            batch.append((f"canary_after_{name}", "canary", _answer_key(root / f"canary_after_{name}")))
    zeros = _stub(root / "baseline_zeros")
    _append(zeros, ZEROS)
    batch.append(("baseline_zeros", "baseline", zeros))
    return batch


# The honest baseline for the forgeries: plain arrays of zeros of the right shapes.
ZEROS = ("import numpy as _np\n"
         "def _fwd(self, x, params, **k): return _np.zeros((x.shape[0], params['W'].shape[1]), x.dtype), (x, params)\n"
         "def _bwd(self, dy, c): x, p = c; return _np.zeros_like(x), {k: _np.zeros_like(v) for k, v in p.items()}\n"
         "Linear.forward, Linear.backward = _fwd, _bwd\n")


def _status(pid):
    try:
        return dict(line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                    if ":\t" in line)
    except OSError:
        return {}


def worker_processes():
    """Live processes running as a worker uid outside any live sandbox (a sandbox's processes
    all have a bwrap ancestor; one that outlived its sandbox has none)."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        status = _status(pid)
        try:
            uid = int(status.get("Uid", "").split()[0])
        except (IndexError, ValueError):
            continue
        if not runner.UID_BASE <= uid < runner.UID_BASE + runner.UID_SLOTS:
            continue
        ancestor, names = status.get("PPid", "0").strip(), []
        while ancestor not in ("0", ""):
            parent = _status(ancestor)
            names.append(parent.get("Name", "").strip())
            ancestor = parent.get("PPid", "0").strip()
        if "bwrap" not in names:
            out.append(pid)
    return out


def tree_state(*folders):
    """(path, size, mtime) of every file under `folders`: to show nothing changed."""
    state = set()
    for folder in folders:
        for dirpath, _, files in os.walk(folder):
            for f in files:
                p = os.path.join(dirpath, f)
                try:
                    st = os.lstat(p)
                except OSError:
                    continue
                state.add((p, st.st_size, st.st_mtime_ns))
    return state


def grade_cli(folders, *extra):
    return subprocess.run([sys.executable, "-m", "grader.cli", "grade", "mlp", *map(str, folders),
                           "--item", ITEMS[0], "--item", ITEMS[1], "--format", "json", "-j", "2",
                           "--timeout", TIMEOUT, *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=1200)


needs_sandbox = pytest.mark.skipif(bool(runner.sandbox_problem()), reason=runner.sandbox_problem() or "")


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("attacks")
    entries = build_batch(root)
    watched = [ROOT / "reference", ROOT / "solutions", ROOT / "grader", ROOT / "assignments", VENV_SITE]
    before = tree_state(*watched)
    tmp_before = set(os.listdir("/tmp"))
    start = time.monotonic()
    proc = grade_cli([f for _, _, f in entries])
    seconds = time.monotonic() - start
    time.sleep(1)
    return {"proc": proc, "entries": entries, "reports": json.loads(proc.stdout) if proc.stdout.strip() else [],
            "changed": tree_state(*watched) ^ before, "tmp_new": set(os.listdir("/tmp")) - tmp_before,
            "workers_left": worker_processes(), "seconds": seconds}


def _report(batch, name):
    k = [n for n, _, _ in batch["entries"]].index(name)
    return batch["reports"][k]


def _describe(r):
    return f"{r['submission']}: {r['score']}/{r['max_score']} " + "; ".join(
        f"{i['id']} {i['status']}: {i['output'][:300]}" for i in r["items"])


def test_every_attack_and_canary_gets_its_own_report(batch):
    """One report per submission, in the order given: no attack is lost, merged or skipped."""
    assert [Path(r["submission"]).name for r in batch["reports"]] == [Path(f).name for _, _, f in batch["entries"]]
    assert len(batch["entries"]) == 2 * N_ATTACKS + 1  # each attack, its canary, and the baseline


@needs_sandbox
def test_grader_survives_the_batch(batch):
    proc = batch["proc"]
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert len(batch["reports"]) == len(batch["entries"])


@needs_sandbox
@pytest.mark.parametrize("name", list(STEAL))
def test_stealing_gains_nothing(batch, name):
    r = _report(batch, name)
    assert r["score"] == 0, _describe(r)


@needs_sandbox
@pytest.mark.parametrize("name", list(FORGE))
def test_forging_gains_nothing(batch, name):
    """No more than plain zeros of the right shapes earn (whatever the checks give those)."""
    r, baseline = _report(batch, name), _report(batch, "baseline_zeros")
    assert baseline["score"] < baseline["max_score"]
    for got, base in zip(r["items"], baseline["items"]):
        assert got["score"] <= base["score"], _describe(r) + "\nbaseline: " + _describe(baseline)


@needs_sandbox
@pytest.mark.parametrize("name", list(STEAL) + list(FORGE) + list(DISRUPT))
def test_classmate_after_attack_keeps_full_marks(batch, name):
    r = _report(batch, f"canary_after_{name}")
    assert r["score"] == r["max_score"] == 5, _describe(r)


@needs_sandbox
@pytest.mark.parametrize("name", list(DISRUPT))
def test_disruption_costs_at_most_its_own_items(batch, name):
    r = _report(batch, name)
    assert r["max_score"] == 5 and len(r["items"]) == 2, _describe(r)
    for i in r["items"]:
        assert i["status"] in ("passed", "error", "timeout", "failed", "partial"), _describe(r)


@needs_sandbox
def test_nothing_persists(batch):
    assert not batch["workers_left"], f"worker processes still running: {batch['workers_left']}"
    assert not batch["changed"], sorted(batch["changed"])[:20]
    assert not [n for n in batch["tmp_new"] if MARK in n], batch["tmp_new"]
    assert not Path("/tmp", MARK).exists()
    assert not list(VENV_SITE.glob(f"{MARK}*"))


@needs_sandbox
def test_reply_forged_twice_is_an_error(batch):
    item = _report(batch, "forged_ok_then_continue")["items"][0]
    assert item["status"] == "error" and "more than once" in item["output"], item


@needs_sandbox
def test_daemon_dies_with_its_item(batch):
    time.sleep(1)
    assert not Path("/tmp", MARK).exists()
    assert not worker_processes()


# --------------------------------------------------------------------------- the control
# The routes the in-process guards (import blocker, audit hook) do not see: each fetches the
# answer key when the worker is a plain process.
CONTROL = ("subprocess_cp", "subprocess_cat", "shell_cat", "ctypes_open", "proc_environ_pwd",
           "unblock_and_import_torch")


def test_routes_work_without_the_sandbox(tmp_path):
    """The same attacks as plain processes (`--no-sandbox`): the in-process guards do not see
    these routes, so they fetch the answer key and score full marks. This shows the attack
    code is real; the sandbox is what stops it."""
    folders = []
    for name in CONTROL:
        folder = _stub(tmp_path / name)
        _append(folder, steal_code(STEAL[name]))
        folders.append(folder)
    proc = grade_cli(folders, "--no-sandbox")
    reports = json.loads(proc.stdout)
    assert [r["score"] for r in reports] == [5] * len(CONTROL), [_describe(r) for r in reports if r["score"] < 5]


def test_grade_refuses_without_bwrap(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path)}  # no bwrap on PATH
    proc = subprocess.run([sys.executable, "-m", "grader.cli", "grade", "mlp", str(STUB), "--item", ITEMS[0]],
                          cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "--no-sandbox" in proc.stderr and "bubblewrap" in proc.stderr


# --------------------------------------------------------------------------- symlinks, FIFOs, devices
def test_links_fifos_and_devices_in_a_folder_are_never_read(tmp_path):
    sub = _stub(tmp_path / "sub")
    (sub / "layers.py").unlink()
    (sub / "layers.py").symlink_to(SOLUTION)
    (sub / "mlp_weights.npz").symlink_to(SOLUTION.parent / "mlp_weights.npz")
    (sub / "losses.py").unlink()
    os.mkfifo(sub / "losses.py")
    (sub / "optim.py").unlink()
    (sub / "optim.py").symlink_to("/dev/zero")
    (sub / "answers").symlink_to(SOLUTION.parent, target_is_directory=True)
    start = time.monotonic()
    copy = engine.snapshot(sub, tmp_path / "copy", "mlp")
    assert time.monotonic() - start < 5
    assert sorted(p.name for p in copy.iterdir()) == sorted(
        p.name for p in STUB.glob("*.py") if p.name not in ("layers.py", "losses.py", "optim.py"))
    assert all(not p.is_symlink() for p in copy.rglob("*"))
    assert engine.syntax_errors(sub) == []  # returns at once: the FIFO is never opened


@needs_sandbox
def test_linked_answer_key_scores_nothing(tmp_path):
    sub = _stub(tmp_path / "sub")
    (sub / "layers.py").unlink()
    (sub / "layers.py").symlink_to(SOLUTION)
    proc = grade_cli([sub])
    r = json.loads(proc.stdout)
    assert r["score"] == 0 and "layers.py is missing" in r["items"][0]["output"], _describe(r)
    assert proc.stderr.count("layers.py is missing") == 1, proc.stderr  # once per submission


# --------------------------------------------------------------------------- precomputed hidden inputs
def _lookup_submission(folder: Path, salt: str):
    """The stub whose Linear answers from a table computed offline for the cases that `salt`
    draws (with the public grader code and the student's own correct layer), and raises
    otherwise: the attack that a public default salt allows."""
    item = next(i for i in engine.items("mlp") if i.id == "mlp.linear.forward")
    calls = item.calls(engine.item_rng(item.id, salt))
    expected = engine.run_reference(calls, engine.reference_resolve())
    table = {}
    for c, e in zip(calls, expected):
        if e and "x" in c.inputs:
            table[c.inputs["x"].tobytes().hex()] = {"y": e["0"]["y"].tolist(), "dtype": str(e["0"]["y"].dtype)}
    _stub(folder)
    _append(folder, f"import numpy as _np\n_TABLE = {json.dumps(table)}\n"
                    "def _fwd(self, x, params, **k):\n"
                    "    hit = _TABLE[_np.asarray(x).tobytes().hex()]\n"
                    "    return _np.array(hit['y'], dtype=hit['dtype']), None\n"
                    "Linear.forward = _fwd\n")
    return folder


def test_public_salt_would_leak_the_cases_but_per_submission_salts_do_not(tmp_path):
    """Control: graded with the very salt the table was computed for, the lookup table scores (the
    attack works); graded as a class is, with that run salt mixed with the submission's own hash
    (which the table itself changes), it scores nothing even though the run salt is known."""
    folder = _lookup_submission(tmp_path / "sub", "grade")
    item = next(i for i in engine.items("mlp") if i.id == "mlp.linear.forward")
    assert engine.grade_item(item, folder, engine.Options(salt="grade")).score > 0
    report = engine.grade("mlp", folder, opts=engine.Options(salt="grade"), only=["mlp.linear.forward"])
    assert report.items[0].score == 0, report.items[0].output


@needs_sandbox
def test_public_salt_precomputation_fails_against_the_course_secret(tmp_path):
    folder = _lookup_submission(tmp_path / "sub", "grade")
    env = {**os.environ, "DLGRADE_SECRET": "a-course-secret-for-this-test-only"}
    proc = subprocess.run([sys.executable, "-m", "grader.cli", "grade", "mlp", str(folder), "--item",
                           "mlp.linear.forward", "--format", "json"], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=300)
    r = json.loads(proc.stdout)
    assert r["score"] == 0 and r["salt_id"], _describe(r)
