"""What every training script does before it trains (`solutions/*/train.py`; students get it
in the kit's tool, like `grader.student.curves`)."""
import ctypes
import os
import sys


def start(args, device_module):
    """The array module for `args.device` (a one-line error and exit 2 before any work when it
    cannot be used), after printing the run's header for the log: command, arguments and the
    environment that changes the result or the speed."""
    _one_line_data_errors()
    try:
        xp = device_module(args.device)
    except RuntimeError as exc:
        print(f"train.py: error: {exc}", file=sys.stderr)
        sys.exit(2)
    print("command:", " ".join([os.path.relpath(sys.executable)] + sys.argv), flush=True)
    print("args:", vars(args), flush=True)
    print("env: DLGRADE_DATA=%s OPENBLAS_NUM_THREADS=%s" % (
        os.environ.get("DLGRADE_DATA"), os.environ.get("OPENBLAS_NUM_THREADS")), flush=True)
    return xp


def _one_line_data_errors():
    """A dataset that is missing or cannot be downloaded ends the script with one line (what
    `dlgrade data fetch` says), not a traceback through the data module."""
    from grader.student.data import DataError
    previous = sys.excepthook

    def hook(kind, exc, tb):
        if issubclass(kind, DataError):
            print(f"train.py: error: {exc}", file=sys.stderr)
        else:
            previous(kind, exc, tb)
    sys.excepthook = hook


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory in the process instead of returning it to the system.

    Every step allocates and frees the same large arrays (the CNN's im2col patches are ~100 MB);
    by default each one is a fresh mmap whose pages the kernel must fault in and zero again,
    which on a virtual machine can cost as much as the matrix products. Linux/glibc only.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
    return bool(libc.mallopt(M_MMAP_MAX, 0)) and bool(libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1))
