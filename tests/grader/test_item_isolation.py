"""Items of one submission share nothing (issue 18.1): each runs in a fresh child of the
submission's pre-started worker, and what one item leaves in the sandbox's IPC namespace, shared
memory or temporary folders is gone before the next starts, so a hidden item's inputs cannot be
stashed for a public item to print into the student's feedback."""
import numpy as np
import pytest

from grader.sandbox.runner import Call, Limits, WorkerPool, sandbox_problem

# Item 0 stashes "hidden" everywhere a process can leave something for a later one; item 1
# returns, per place, 1.0 where it finds it.
STASHER = '''import ctypes, os
import numpy as np

libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
try:
    librt = ctypes.CDLL("librt.so.1", use_errno=True)
except OSError:
    librt = libc
KEY, SIZE, IPC_CREAT, O_CREAT, O_RDWR = 0x5EC7E7, 4096, 0o1000, 0o100, 0o2
FILES = ["/tmp/stash", "/dev/shm/stash", "stash.txt", os.path.expanduser("~/stash"), "/var/tmp/stash"]
PLACES = FILES + ["sysv shm", "sysv msg", "sysv sem", "posix mqueue"]


def shm(create):
    ident = libc.shmget(KEY, SIZE, (IPC_CREAT | 0o666) if create else 0)
    if ident < 0:
        return None
    addr = libc.shmat(ident, None, 0)
    return None if addr in (None, ctypes.c_void_p(-1).value) else (ctypes.c_char * SIZE).from_address(addr)


class Stasher:
    def forward(self, x, params, *, train=False, rng=None, state=None):
        found = np.zeros(len(PLACES))
        if x.flat[0] == 0:
            for path in FILES:
                try:
                    with open(path, "w") as f:
                        f.write("hidden")
                except OSError:
                    pass
            buf = shm(True)
            if buf is not None:
                buf[:6] = b"hidden"
            libc.msgget(KEY, IPC_CREAT | 0o666)
            libc.semget(KEY, 1, IPC_CREAT | 0o666)
            librt.mq_open(b"/stash", O_CREAT | O_RDWR, 0o666, None)
        else:
            found[:len(FILES)] = [os.path.exists(p) for p in FILES]
            buf = shm(False)
            found[len(FILES)] = buf is not None and bytes(buf[:6]) == b"hidden"
            found[len(FILES) + 1] = libc.msgget(KEY, 0) >= 0
            found[len(FILES) + 2] = libc.semget(KEY, 1, 0) >= 0
            found[len(FILES) + 3] = librt.mq_open(b"/stash", O_RDWR, 0o666, None) >= 0
        return found.reshape(1, -1), None

    def backward(self, dy, cache):
        return dy, {}
'''
PLACES = ["/tmp", "/dev/shm", "submission folder", "home", "/var/tmp",
          "sysv shm", "sysv msg", "sysv sem", "posix mqueue"]
LAYER = {"module": "layers", "name": "Stasher", "kwargs": {}, "steps": [{"x": "x", "dy": None, "train": False}]}


def test_nothing_an_item_leaves_reaches_the_next_item(tmp_path):
    if sandbox_problem():
        pytest.skip(sandbox_problem())
    (tmp_path / "layers.py").write_text(STASHER)
    pool = WorkerPool()
    try:
        results = [pool.run(tmp_path, [Call("layer", LAYER, {"x": np.full((1, 2), float(step))})],
                            Limits(timeout_s=20)) for step in (0, 1)]
    finally:
        pool.close()
    assert [r.status for r in results] == ["ok", "ok"], [r.message + r.stdout for r in results]
    found = results[1].outputs[0]["0"]["y"].ravel()
    assert dict(zip(PLACES, found.tolist())) == dict.fromkeys(PLACES, 0.0)
