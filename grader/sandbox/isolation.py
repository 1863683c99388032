"""The sandbox a worker runs in: bubblewrap's namespaces (the default) or, where an autograder
opts into it with `DLGRADE_SANDBOX=uid`, an unprivileged uid of its own (see `grader.sandbox.runner`
for what each shows the worker); why either cannot be used here (`sandbox_problem`), the bwrap
command line, the worker's environment, and the clean-up of what a uid-sandbox worker leaves.
"""
import contextlib
import functools
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader.sandbox.calls import Limits

HERE = Path(__file__).resolve().parent  # the worker's own files (WORKER_FILES)
PACKAGE = HERE.parent                    # grader/: closed to the student's code
TOP = PACKAGE.parent                     # beside it: reference/ and, in a course checkout, solutions/
WORKER_FILES = ("worker.py", "wire.py", "drivers.py", "driverbase.py", "trained.py", "cost.py")  # the package `_dlgrade`
INSIDE = "/sandbox"  # where the worker's files appear inside the sandbox
UID_BASE = 200_000  # workers run as UID_BASE + k (k < UID_SLOTS): one uid per live worker
UID_SLOTS = 10_000


SANDBOX_ENV = "DLGRADE_SANDBOX"  # "bwrap" (the default) or "uid" (the fallback an autograder opts into)
SANDBOXES = ("bwrap", "uid")


class SandboxError(RuntimeError):
    """bubblewrap is missing or cannot create namespaces here."""



def bwrap_path():
    return shutil.which("bwrap")


def sandbox_kind() -> str:
    """The sandbox workers get: `$DLGRADE_SANDBOX`, else "bwrap"."""
    return os.environ.get(SANDBOX_ENV, "").strip() or "bwrap"


def sandbox_problem() -> str:
    """Why workers cannot be sandboxed here ("" when they can): one line. The sandbox is
    bubblewrap unless `$DLGRADE_SANDBOX` says "uid" (see the module's docstring)."""
    kind = sandbox_kind()
    if kind == "bwrap":
        return bwrap_problem()
    if kind == "uid":
        return uid_problem()
    return f"{SANDBOX_ENV}={kind!r} is not a sandbox (one of: {', '.join(SANDBOXES)})"


@functools.lru_cache(maxsize=None)
def bwrap_problem() -> str:
    """Why bubblewrap cannot sandbox workers here ("" when it can): one line."""
    if not bwrap_path():
        return "bubblewrap (bwrap) is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    with tempfile.TemporaryDirectory(prefix="dlgrade-probe-") as tmp:
        Path(tmp, "sub").mkdir()
        try:
            proc = subprocess.run(bwrap_args(Path(tmp), Limits(), "cpu", uid=UID_BASE + UID_SLOTS)
                                  + [python(), "-I", "-S", "-c", "import os; print(os.getuid())"],
                                  capture_output=True, text=True, timeout=30, env=worker_env(Limits(), "cpu"),
                                  stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"bubblewrap cannot start: {exc}"
        if proc.returncode != 0:
            lines = (proc.stderr or proc.stdout).strip().splitlines()
            return "bubblewrap cannot create a sandbox here: " + (lines[-1] if lines else f"exit {proc.returncode}")
    return ""


PROBE_FILES = 20  # files per protected folder that `uid_problem` tries to read as a worker uid


def protected_paths():
    """What a worker must never read: the grader, the references, the course's files (its
    registries, and in a repository its answer keys) and the course secret, where they exist."""
    from grader import course
    from grader import secret
    paths = [PACKAGE, TOP / "reference", course.root(), course.installed(), secret.secret_path()]
    return [p for p in dict.fromkeys(Path(os.path.realpath(p)) for p in paths) if p.exists()]


def _probe_targets(paths):
    """Each protected path and, for a folder, some of the files below it (the shallowest first)."""
    out = []
    for path in paths:
        out.append(str(path))
        if path.is_dir():
            found = []
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames.sort()
                found += [os.path.join(dirpath, f) for f in sorted(filenames)]
                if len(found) >= PROBE_FILES:
                    break
            out += found[:PROBE_FILES]
    return out


_READ_PROBE = """
import os, sys
for path in sys.argv[1:]:
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            open(path, "rb").close()
    except OSError:
        continue
    print(path)
"""


@functools.lru_cache(maxsize=None)
def uid_problem() -> str:
    """Why the uid sandbox cannot be used here ("" when it can): one line. It needs root, an
    interpreter that an unprivileged uid can run, and course files that such a uid cannot read
    (checked by reading them as one)."""
    if os.geteuid() != 0:
        return "the uid sandbox needs root (it runs each worker as an unprivileged uid of its own)"
    uid = UID_BASE + UID_SLOTS
    try:
        proc = subprocess.run([python(), "-I", "-S", "-c", _READ_PROBE, *_probe_targets(protected_paths())],
                              capture_output=True, text=True, timeout=30, cwd="/", stdin=subprocess.DEVNULL,
                              env=worker_env(Limits(), "cpu"), user=uid, group=uid, extra_groups=[])
    except (OSError, subprocess.SubprocessError) as exc:
        return f"the uid sandbox cannot start a worker: {exc}"
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        return "the uid sandbox cannot start a worker: " + (lines[-1] if lines else f"exit {proc.returncode}")
    readable = proc.stdout.split()
    if readable:
        return (f"the uid sandbox would let workers read {readable[0]}; "
                "make the course files unreadable to other users first (chmod go-rwx)")
    return ""


SHARED_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue")  # where any uid may write
SYSV_IPC = {"shm": "shmctl", "msg": "msgctl", "sem": "semctl"}  # /proc/sysvipc/<kind>: remover


def clean_uid(uid, keep=(), work=None):
    """Remove what a uid-sandbox worker may have left for a later item, as bubblewrap's private
    namespaces do: its processes (but `keep`), its files at the top of the folders every user
    may write (`SHARED_FOLDERS`; its own working folder `work` stays) and its System V IPC objects."""
    _kill_uid(uid, keep)
    for folder in SHARED_FOLDERS:
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            path = os.path.join(folder, name)
            with contextlib.suppress(OSError):
                st = os.lstat(path)
                if st.st_uid != uid or work is not None and os.path.samefile(path, work):
                    continue
                if stat.S_ISDIR(st.st_mode):
                    shutil.rmtree(path, ignore_errors=True)  # fd-based: a link inside is never followed
                else:
                    os.unlink(path)
    _remove_sysv_ipc(uid)


def _remove_sysv_ipc(uid):
    import ctypes
    libc = None
    for kind, remover in SYSV_IPC.items():
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                header, *rows = f.read().splitlines()
        except OSError:
            continue
        columns = header.split()
        for row in rows:
            fields = dict(zip(columns, row.split()))
            if str(uid) not in (fields.get("uid"), fields.get("cuid")):
                continue
            libc = libc or ctypes.CDLL(None, use_errno=True)
            ident = int(row.split()[1])
            if kind == "sem":
                libc.semctl(ident, 0, 0)  # IPC_RMID
            else:
                getattr(libc, remover)(ident, 0, None)


def _kill_uid(uid, keep=()):
    """SIGKILL every process running as `uid` (real or effective) but those in `keep`, until
    none is left: what a PID namespace does for bubblewrap."""
    for _ in range(50):
        found = False
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) in keep:
                continue
            try:
                with open(f"/proc/{pid}/status") as f:
                    ids = next(line for line in f if line.startswith("Uid:")).split()[1:3]
            except (OSError, StopIteration):
                continue
            if str(uid) in ids:
                found = True
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        if not found:
            return
        time.sleep(0.01)


def python():
    """The real interpreter (a venv's `python` is a symlink to it)."""
    return os.path.realpath(sys.executable)


def _site_dirs():
    """Folders of third-party packages the interpreter would see: hidden in the sandbox."""
    ver = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [Path(sys.base_prefix, "lib", ver, "site-packages"), Path(sys.base_prefix, "lib", ver, "dist-packages"),
                  Path("/usr/lib/python3/dist-packages"), Path("/usr/local/lib", ver, "dist-packages"),
                  Path("/usr/local/lib", ver, "site-packages"), Path("/usr/lib", ver, "site-packages")]
    return [p for p in dict.fromkeys(candidates) if p.is_dir()]


def packages(device):
    """(name, path) of the third-party packages a worker may import: NumPy (and CuPy for cuda)."""
    import importlib.util
    wanted = ("numpy",) + (("cupy", "cupy_backends", "fastrlock", "nvidia") if device == "cuda" else ())
    out = {}
    for name in wanted:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            continue
        site = Path(list(spec.submodule_search_locations)[0]).resolve().parent
        for entry in site.iterdir():  # the package and its bundled libraries (numpy.libs)
            if entry.name == name or entry.name.startswith((name + ".", name + "_")) and not entry.name.endswith("-info"):
                out[entry.name] = entry
    return sorted(out.items())


def bwrap_args(work: Path, limits: Limits, device: str, *, uid: int, reference=False):
    """The bwrap command line for a worker whose submission copy is `work/sub`."""
    root = os.geteuid() == 0
    args = [bwrap_path(), "--die-with-parent", "--new-session",
            "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--cap-drop", "ALL"]
    if root:  # privileged bwrap: keep just enough to drop to an unprivileged uid of our own
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:     # an unprivileged user: a user namespace maps it to "nobody"
        args += ["--unshare-user", "--uid", "65534", "--gid", "65534"]
    args += ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    prefix = os.path.realpath(sys.base_prefix)
    if not prefix.startswith("/usr/"):
        args += ["--ro-bind", prefix, prefix]
    for site in _site_dirs():  # no third-party package is visible unless bound below
        args += ["--tmpfs", str(site)]
    if os.path.exists("/etc/ld.so.cache"):
        args += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    args += ["--proc", "/proc", "--dev", "/dev", "--mqueue", "/dev/mqueue",  # POSIX queues: listed, so removable
             "--perms", "1777", "--size", str(limits.tmp_mb << 20), "--tmpfs", "/tmp"]
    for name in WORKER_FILES:
        args += ["--ro-bind", str(HERE / name), f"{INSIDE}/worker/{name}"]
    for name, path in packages(device):
        args += ["--ro-bind", str(path), f"{INSIDE}/site/{name}"]
    if reference:  # trusted sessions only: the speed yardstick
        args += ["--ro-bind", str(TOP / "reference"), f"{INSIDE}/reference"]
    if device == "cuda":
        for dev in sorted(Path("/dev").glob("nvidia*")):
            args += ["--dev-bind", str(dev), str(dev)]
        for extra in ("/proc/driver/nvidia", "/sys/module/nvidia"):  # /usr (CUDA, the driver's libraries) is bound above
            if os.path.exists(extra):
                args += ["--ro-bind", extra, extra]
    args += ["--ro-bind", str(work / "sub"), f"{INSIDE}/sub", "--chdir", f"{INSIDE}/sub", "--"]
    return _with_parents(args)


def _with_parents(args):
    """Create the folders above every mount point world-readable (bwrap makes them 0700, which
    the unprivileged worker could not traverse)."""
    made, dirs = {"/", "/usr", "/proc", "/dev", "/tmp"}, []
    for i, a in enumerate(args):
        if a in ("--ro-bind", "--dev-bind", "--symlink", "--tmpfs") and i + 2 <= len(args):
            dest = args[i + 1] if a == "--tmpfs" else args[i + 2]
            for parent in reversed(Path(dest).parents):
                p = str(parent)
                if p not in made and not p.startswith("/usr/"):
                    made.add(p)
                    dirs += ["--perms", "0755", "--dir", p]
    cut = args.index("--ro-bind")
    return args[:cut] + dirs + args[cut:]


def worker_env(limits: Limits, device: str):
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8", "MPLBACKEND": "Agg"}
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(limits.threads)
    if device == "cuda" and "CUDA_VISIBLE_DEVICES" in os.environ:
        env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
    return env
