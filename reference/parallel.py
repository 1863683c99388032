"""Threads for the reference layers on NumPy: shares of samples side by side, BLAS single-threaded.

Multithreaded OpenBLAS splits each matrix product across its threads, which then meet at the
end of every product; between products its idle threads spin (about 0.1 s), and NumPy's copies
and elementwise passes run in one thread. With two cores, and more so on a machine that other
processes keep busy, a CNN step then ran slower on two threads than on one (README, "Conv and
training speed"). Instead, inside :func:`region` BLAS runs single-threaded, and a layer that has
enough work splits its samples into contiguous shares (:func:`shares`), computed by a pool of
threads, one per core: NumPy releases the GIL in its copies, ufuncs and products, so the shares
(im2col, products, elementwise passes) run in parallel, and the threads meet once per call.

BLAS's thread count is process-wide: :func:`region` sets it to 1 when the first region is entered
(in any thread) and restores it when the last one is left. That needs OpenBLAS with its own
thread pool (NumPy's wheels), found with threadpoolctl; without them, or with one core, or on
CuPy, everything runs in the calling thread as before, with BLAS's own threads. Results do not depend on the split beyond rounding: each share computes whole rows, and
only sums over samples (dW, db, batch statistics) add per-share partial sums in share order.
"""
import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy


def _cores():
    """OPENBLAS_NUM_THREADS (or OMP_/MKL_NUM_THREADS) when set, else the cores this process may use."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


THREADS = _cores()
# A call splits its samples only when it has at least this many bytes of work (its largest work
# array): below, the hand-over to the pool (tens of microseconds) costs more than it saves.
MIN_BYTES = 1 << 20
# Shares per thread: more, smaller shares let a thread that the scheduler runs late find the work
# already done by the others, instead of making the whole call wait for it.
SHARES_PER_THREAD = 2

_lock = threading.Lock()
_local = threading.local()
_state = {"depth": 0, "saved": None, "pool": None, "pid": None, "blas": None}


def _blas():
    """[(get, set)] thread-count functions of the BLAS libraries in this process, or [] unless every
    one is OpenBLAS with its own (pthreads) thread pool, whose count is process-wide. Found with
    threadpoolctl, called directly: threadpoolctl itself lets only the first thread that sets a
    limit change OpenBLAS's count, and shares may start from any thread."""
    if _state["blas"] is None:
        found = []
        try:
            from threadpoolctl import ThreadpoolController
            libs = ThreadpoolController().select(user_api="blas").lib_controllers
            for lib in libs:
                if lib.internal_api != "openblas" or getattr(lib, "threading_layer", "") != "pthreads":
                    raise LookupError(lib.internal_api)
                get = set_ = None
                for prefix in ("", "scipy_"):
                    for suffix in ("", "64_", "_64"):
                        get = get or getattr(lib.dynlib, f"{prefix}openblas_get_num_threads{suffix}", None)
                        set_ = set_ or getattr(lib.dynlib, f"{prefix}openblas_set_num_threads{suffix}", None)
                if get is None or set_ is None:
                    raise LookupError(lib.filepath)
                found.append((get, set_))
        except Exception:  # threadpoolctl not installed, or a BLAS we do not drive
            found = []
        _state["blas"] = found
    return _state["blas"]


def enabled():
    """True when shares run on the pool: NumPy with several cores and a BLAS we can set."""
    return THREADS > 1 and bool(_blas())


def single_blas():
    """True when the products of this thread run on one BLAS thread."""
    return THREADS == 1 or _state["depth"] > 0


@contextlib.contextmanager
def region():
    """Run the enclosed layers with BLAS single-threaded and their shares on the pool (re-entrant,
    any thread). Outside every region, BLAS has its thread count back."""
    if not enabled() or getattr(_local, "worker", False):
        yield
        return
    with _lock:
        if _state["depth"] == 0:
            _state["saved"] = [get() for get, _ in _blas()]
            for _, set_ in _blas():
                set_(1)
        _state["depth"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["depth"] -= 1
            if _state["depth"] == 0:
                for (_, set_), n in zip(_blas(), _state["saved"]):
                    set_(n)


def _pool():
    """The pool (THREADS - 1 threads: the calling thread computes shares too), rebuilt after a fork."""
    with _lock:
        if _state["pool"] is None or _state["pid"] != os.getpid():
            _state["pool"] = ThreadPoolExecutor(THREADS - 1, thread_name_prefix="reference-share",
                                                initializer=_mark_worker)
            _state["pid"] = os.getpid()
        return _state["pool"]


def _mark_worker():
    _local.worker = True


def _after_fork_in_child():
    """A forked child has only the forking thread: a fresh lock (another thread may have held it)
    and no pool (its threads are gone)."""
    global _lock
    _lock = threading.Lock()
    _state["pool"] = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def shares(xp, n, nbytes, work):
    """[work(n0, n1), ...] over contiguous ranges (n0, n1) of n samples, in order.

    One range (0, n), computed here, unless this is NumPy, the pool is enabled, `nbytes` (the
    call's work) is at least MIN_BYTES and there are at least two samples: then about
    THREADS * SHARES_PER_THREAD ranges, computed by this thread and the pool's, inside a region.
    `work` must only write its own rows of shared outputs.
    """
    k = min(n, THREADS * SHARES_PER_THREAD)
    if xp is not numpy or k < 2 or nbytes < MIN_BYTES or getattr(_local, "worker", False) or not enabled():
        return [work(0, n)]
    bounds = [n * i // k for i in range(k + 1)]
    ranges = list(zip(bounds[:-1], bounds[1:]))
    results = [None] * k
    todo = iter(range(k))
    cond = threading.Condition()
    pending = {"left": k, "running": 0, "error": None}

    def pull():
        while True:
            with cond:
                i = None if pending["error"] is not None else next(todo, None)
                if i is None:
                    return
                pending["running"] += 1
            try:
                results[i] = work(*ranges[i])
                error = None
            except BaseException as exc:  # re-raised in the calling thread
                error = exc
            with cond:
                pending["running"] -= 1
                pending["left"] -= 1
                if error is not None and pending["error"] is None:
                    pending["error"] = error
                cond.notify_all()

    with region():
        pool = _pool()
        try:
            for _ in range(min(THREADS, k) - 1):
                pool.submit(pull)  # a thread that starts late finds nothing left and returns
        except RuntimeError:  # no thread could be started (a process limit, shutdown): this one does it all
            pass
        _local.worker = True
        try:
            pull()
        finally:
            _local.worker = False
            with cond:  # every range done, or, after an error, none still running
                cond.wait_for(lambda: pending["left"] == 0 or
                              (pending["error"] is not None and pending["running"] == 0))
    if pending["error"] is not None:
        raise pending["error"]
    return results
