"""Run drivers on student code in a sandboxed worker process (the trusted side of the boundary).

Each worker is `python -I -S -B worker.py` inside bubblewrap (`bwrap`): a fresh mount namespace
that holds only the interpreter and its libraries (read-only, with every site-packages folder
hidden), NumPy (read-only), the worker's own three modules (read-only), a read-only copy of the
submission's files and a small private `/tmp`; no network, its own PID, IPC and UTS namespaces,
no capabilities, an unprivileged uid of its own (so `RLIMIT_NPROC` counts only its processes),
and resource limits. It dies with the grader.

The parent sends one request frame (`wire.frame`) on the worker's stdin and reads replies from a
pipe whose write end is the only thing the worker gets besides: nothing the worker reports is
read from a file it could have written. Student output goes to an anonymous temporary file.
`Session` keeps one worker for an exchange of several frames (the speed items time each
exchange here, in the parent, where student code cannot reach the clock).

Where bubblewrap cannot create namespaces (a Docker container without `CAP_SYS_ADMIN`, which is
how Gradescope runs its autograders; see docs/gradescope.md), an autograder may choose the uid
sandbox instead, explicitly, with `DLGRADE_SANDBOX=uid` (never chosen silently): the worker is a
plain process, started as root, that drops for good to an unprivileged uid of its own with the
same resource limits, in a private working folder (the submission copy read-only, its own
temporary folder) and with NumPy reached through a folder of links, not the whole site-packages.
It sees the rest of the filesystem as any other user would, so the course files must be made
unreadable to other users first (`uid_problem` checks that as a worker uid before grading); it
has the network, the shared /tmp and /dev/shm, and sees other processes. After every item and
when it closes, the processes, the top-level files in shared folders and the System V IPC objects
of its uid are removed (`_clean_uid`); items must run one at a time (`-j 1`) for that to keep one
item's files from the next.

Memory: on the CPU the worker's address space is capped (`RLIMIT_AS`). CUDA reserves far more
address space than it uses (unified addressing maps tens of GB at context creation), so with
`device="cuda"` that cap would break CuPy; there the parent watches the resident memory of the
worker's whole process tree instead (anonymous and shared-memory pages from
`/proc/PID/status`, every `RSS_POLL_S`) and kills the worker's process group when it exceeds
`Limits.memory_mb`. An allocation can overshoot by what it writes within one poll.
"""
import contextlib
import functools
import itertools
import os
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from grader.sandbox import wire

HERE = Path(__file__).resolve().parent  # the worker's own files (WORKER_FILES)
PACKAGE = HERE.parent                    # grader/: closed to the student's code
TOP = PACKAGE.parent                     # beside it: reference/ and, in a course checkout, solutions/
WORKER_FILES = ("worker.py", "wire.py", "drivers.py")
STDOUT_TAIL = 2000  # characters of student output kept for feedback
MAX_REPLY = 512 << 20  # bytes of one reply frame's body
INSIDE = "/sandbox"  # where the worker's files appear inside the sandbox
RSS_POLL_S = 0.02  # how often the memory watchdog of a CUDA worker looks (seconds)
UID_BASE = 200_000  # workers run as UID_BASE + k (k < UID_SLOTS): one uid per live worker
UID_SLOTS = 10_000
_uids = itertools.count()
_UID_OFFSET = os.getpid() * 1009 % UID_SLOTS  # concurrent graders mostly use different uids


SANDBOX_ENV = "DLGRADE_SANDBOX"  # "bwrap" (the default) or "uid" (the fallback an autograder opts into)
SANDBOXES = ("bwrap", "uid")


class SandboxError(RuntimeError):
    """bubblewrap is missing or cannot create namespaces here."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one worker process."""
    timeout_s: float = 30.0
    memory_mb: int = 4096  # RLIMIT_AS on the CPU; resident memory (parent's watchdog) with CUDA
    file_mb: int = 64
    threads: int = 1
    processes: int = 64     # RLIMIT_NPROC (threads count too), enforced per worker uid
    open_files: int = 256
    tmp_mb: int = 64        # the private /tmp

    @property
    def cpu_s(self) -> int:
        return int(self.timeout_s * max(1, self.threads)) + 5


@dataclass(frozen=True)
class Call:
    """One driver invocation: `drivers.DRIVERS[driver](resolve, spec, inputs)`."""
    driver: str
    spec: dict
    inputs: dict


@dataclass
class WorkerResult:
    """What came back from a worker. `status`: ok, not_attempted, error, timeout or crashed."""
    status: str
    outputs: list = field(default_factory=list)   # one nested dict of arrays per call
    types: list = field(default_factory=list)     # per call: {key: type name} of non-ndarray returns
    message: str = ""
    stdout: str = ""


# --------------------------------------------------------------------------- the sandbox
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
            proc = subprocess.run(_bwrap_args(Path(tmp), Limits(), "cpu", uid=UID_BASE + UID_SLOTS)
                                  + [_python(), "-I", "-S", "-c", "import os; print(os.getuid())"],
                                  capture_output=True, text=True, timeout=30, env=_env(Limits(), "cpu"),
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
        proc = subprocess.run([_python(), "-I", "-S", "-c", _READ_PROBE, *_probe_targets(protected_paths())],
                              capture_output=True, text=True, timeout=30, cwd="/", stdin=subprocess.DEVNULL,
                              env=_env(Limits(), "cpu"), user=uid, group=uid, extra_groups=[])
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


def _clean_uid(uid, keep=(), work=None):
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


def _python():
    """The real interpreter (a venv's `python` is a symlink to it)."""
    return os.path.realpath(sys.executable)


def _site_dirs():
    """Folders of third-party packages the interpreter would see: hidden in the sandbox."""
    ver = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [Path(sys.base_prefix, "lib", ver, "site-packages"), Path(sys.base_prefix, "lib", ver, "dist-packages"),
                  Path("/usr/lib/python3/dist-packages"), Path("/usr/local/lib", ver, "dist-packages"),
                  Path("/usr/local/lib", ver, "site-packages"), Path("/usr/lib", ver, "site-packages")]
    return [p for p in dict.fromkeys(candidates) if p.is_dir()]


def _packages(device):
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


def _bwrap_args(work: Path, limits: Limits, device: str, *, uid: int, reference=False):
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
    for name, path in _packages(device):
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


def _env(limits: Limits, device: str):
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8", "MPLBACKEND": "Agg"}
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(limits.threads)
    if device == "cuda" and "CUDA_VISIBLE_DEVICES" in os.environ:
        env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
    return env


# --------------------------------------------------------------------------- submission files
MAX_FILE = 64 << 20        # per copied file
MAX_SOURCE = 2 << 20       # per .py file
MAX_TOTAL = 256 << 20      # per submission
MAX_FILES = 500
MAX_DEPTH = 16             # folders below the submission's root that are read


class SubmissionError(ValueError):
    """A submission folder that cannot be copied safely (one-line message)."""


def _read_regular(path: Path, cap: int) -> bytes:
    """The bytes of `path` if it is a regular file (never a symlink, FIFO or device) of at most
    `cap` bytes; raises SubmissionError otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise SubmissionError(f"{path.name}: cannot be read ({exc.strerror})")
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SubmissionError(f"{path.name}: not a regular file")
        if st.st_size > cap:
            raise SubmissionError(f"{path.name}: larger than {cap >> 20} MB")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(cap + 1)
        if len(data) > cap:
            raise SubmissionError(f"{path.name}: larger than {cap >> 20} MB")
        return data
    finally:
        os.close(fd)


def submission_files(src: Path, extra=(), *, links_within=None, skipped=None):
    """{relative path: bytes} of a submission's `.py` files and of the named data files.

    Walks without following links; symbolic links, FIFOs, devices, dot-folders and
    `__pycache__` are skipped (their names appended to `skipped`), except links to regular
    files when both the link and its target lie inside `links_within` (the course's own
    `solutions/`, whose later assignments link to earlier ones); files and the submission are
    capped in size and count."""
    src = Path(src)
    skipped = [] if skipped is None else skipped
    out, total = {}, 0
    for dirpath, dirnames, filenames in os.walk(src, followlinks=False):
        rel_dir = Path(dirpath).relative_to(src)
        # os.walk recurses: a folder nested past MAX_DEPTH is not read (nor walked into)
        dirnames[:] = [] if len(rel_dir.parts) >= MAX_DEPTH else sorted(
            d for d in dirnames if not d.startswith(".") and d != "__pycache__"
            and not os.path.islink(os.path.join(dirpath, d)))
        for name in sorted(filenames):
            rel = rel_dir / name
            if not name.endswith(".py") and str(rel) not in extra:
                continue
            if name.startswith("."):
                continue
            path = Path(dirpath, name)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode) and links_within is not None and _inside(path, links_within):
                path = Path(os.path.realpath(path))
            elif not stat.S_ISREG(st.st_mode):  # a link, FIFO or device: never read
                skipped.append(str(rel))
                continue
            data = _read_regular(path, MAX_SOURCE if name.endswith(".py") else MAX_FILE)
            total += len(data)
            if len(out) >= MAX_FILES or total > MAX_TOTAL:
                raise SubmissionError(f"more than {MAX_FILES} files or {MAX_TOTAL >> 20} MB")
            out[str(rel)] = data
    return out


def _inside(link: Path, root: Path) -> bool:
    root = Path(os.path.realpath(root))
    return (Path(os.path.realpath(link.parent)).is_relative_to(root)
            and Path(os.path.realpath(link)).is_relative_to(root))


def write_files(files: dict, dst: Path):
    for rel, data in files.items():
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        (dst / rel).write_bytes(data)


# --------------------------------------------------------------------------- a worker process
class WorkerFailure(Exception):
    """The worker died, timed out or broke the protocol."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


class Session:
    """One worker process: `exchange` sends a frame and waits for one reply frame.

    `sandbox=False` runs the worker as a plain child process (the instructor's explicit
    `--no-sandbox`, or `dlgrade check` where bwrap is unavailable)."""

    def __init__(self, submission, limits: Limits = Limits(), *, extra_files=(), device="cpu",
                 sandbox=True, reference=False, files=None, zygote=False):
        self.limits, self.device = limits, device
        self._tmp = tempfile.TemporaryDirectory(prefix="dlgrade-")
        work = Path(self._tmp.name)
        sub = work / "sub"
        sub.mkdir()
        if submission is not None:
            write_files(files if files is not None else submission_files(Path(submission), extra_files), sub)
        self._out = tempfile.TemporaryFile()  # student stdout/stderr: anonymous, never a path
        reply_r, reply_w = os.pipe()
        uid = UID_BASE + (_UID_OFFSET + next(_uids)) % UID_SLOTS
        self.memory_watch = device == "cuda"  # RLIMIT_AS would break CUDA: the parent watches instead
        self.memory_exceeded = False
        request = {"limits": {"memory_mb": limits.memory_mb, "cpu_s": limits.cpu_s, "file_mb": limits.file_mb,
                              "processes": limits.processes, "open_files": limits.open_files,
                              "address_space": not self.memory_watch},
                   "device": device, "reference": reference, "zygote": zygote, "sandboxed": sandbox,
                   # for the audit hook (a second layer; the sandbox does not show these at all)
                   "forbid": [str(PACKAGE), str(TOP / "reference"), str(TOP / "solutions")]}
        kind = sandbox_kind() if sandbox else None
        self._uid = uid if kind == "uid" else None
        if sandbox:
            problem = sandbox_problem()
            if problem:
                raise SandboxError(problem)
        if kind == "bwrap":
            cmd = _bwrap_args(work, limits, device, uid=uid, reference=reference) + [
                _python(), "-I", "-S", "-B", f"{INSIDE}/worker/worker.py", str(reply_w), f"{INSIDE}/site"]
            if os.geteuid() == 0:
                request["uid"] = uid
            cwd = None
        else:
            link = work / "worker"
            link.mkdir()
            for name in WORKER_FILES:
                shutil.copyfile(HERE / name, link / name)
            if reference:
                shutil.copytree(TOP / "reference", work / "reference",
                                ignore=shutil.ignore_patterns("__pycache__"), copy_function=shutil.copyfile)
                for dirpath, _, filenames in os.walk(work / "reference"):  # not the installed folder's
                    os.chmod(dirpath, 0o755)                              # modes: closed under the uid sandbox
                    for name in filenames:
                        os.chmod(os.path.join(dirpath, name), 0o644)
            if kind == "uid":  # links to the packages it may import, not the whole site-packages
                site = str(work / "site")
                os.mkdir(site)
                for name, path in _packages(device):
                    os.symlink(path, os.path.join(site, name))
            else:  # every folder holding a package the worker may import (CuPy may live apart from NumPy)
                site = os.pathsep.join(dict.fromkeys(str(Path(path).parent) for _, path in _packages(device)))
            cmd = [_python(), "-I", "-S", "-B", str(link / "worker.py"), str(reply_w), site]
            cwd = sub
        env = _env(limits, device)
        if kind == "uid":  # a working folder only this worker's uid (and root) may enter
            tmp = work / "tmp"
            tmp.mkdir()
            for path in (work, tmp):
                os.chown(path, uid, uid)
                os.chmod(path, 0o700)
            env.update(HOME=str(tmp), TMPDIR=str(tmp))
            request.update(uid=uid, sandboxed=False)  # not alone in a PID namespace: `after_item` cleans up
        try:
            self.proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=self._out,
                                         stderr=subprocess.STDOUT, pass_fds=(reply_w,), start_new_session=True)
        finally:
            os.close(reply_w)
        self._watch_stop = threading.Event()
        if self.memory_watch:
            threading.Thread(target=self._watch_memory, daemon=True, name="dlgrade-rss").start()
        self._reply = reply_r
        self._pid = None
        for fd in (reply_r, self.proc.stdin.fileno()):
            _big_pipe(fd)
        os.set_blocking(self.proc.stdin.fileno(), False)
        self.started = time.monotonic()
        self.deadline = self.started + limits.timeout_s
        try:
            self._send(wire.frame(request))
            ready, _, _ = self.exchange_reply()
            if ready.get("status") != "ready":
                raise WorkerFailure("crashed", "the worker did not start")
            self._pid = self.worker_pid()
        except WorkerFailure as failure:
            failure.message += ("\n" + self.stdout()) if self.stdout().strip() else ""
            self.close()
            raise

    # -- protocol
    def _send(self, data: bytes):
        """Write `data` to the worker's stdin within the deadline."""
        fd = self.proc.stdin.fileno()
        view = memoryview(data)
        while view:
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([], [fd], [], left)[1]:
                raise WorkerFailure("timeout", self._timeout_message())
            try:
                n = os.write(fd, view[:1 << 16])
            except BlockingIOError:
                continue
            except OSError:
                raise WorkerFailure("crashed", self._death_message())
            view = view[n:]

    def _read(self, n: int) -> bytes:
        left = self.deadline - time.monotonic()
        if left <= 0 or not select.select([self._reply], [], [], left)[0]:
            raise WorkerFailure("timeout", self._timeout_message())
        return os.read(self._reply, n)

    def worker_pid(self):
        """The pid (in our namespace) of the worker's Python process: the leaf below bwrap."""
        pid = self.proc.pid
        for _ in range(4):
            try:
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                return None
            if not children:
                return pid
            pid = int(children[-1])
        return pid

    def cpu_seconds(self):
        """CPU time the worker process has used so far, all its threads, from the kernel's
        scheduler statistics (nanoseconds; nothing the worker can write)."""
        pid = self._pid
        total = 0
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                    total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return float("nan")
        return total * 1e-9

    def exchange(self, header: dict, tree=None, *, cpu=False):
        """Send one frame; return (reply header, reply arrays, seconds from the first byte sent
        to the last byte received, measured here). With `cpu`, the seconds are instead the
        worker's CPU time over that span (robust to other load on the machine)."""
        data = wire.frame(header, tree)
        cpu0 = self.cpu_seconds() if cpu else 0.0
        start = time.perf_counter()
        self._send(data)
        reply, tree, elapsed = self.exchange_reply()
        if cpu:
            elapsed = self.cpu_seconds() - cpu0
        else:
            elapsed = time.perf_counter() - start
        return reply, tree, elapsed

    def exchange_reply(self):
        """The next reply frame: (header, arrays, 0.0)."""
        try:
            reply = wire.read_frame(self._read, MAX_REPLY)
        except wire.WireError as exc:
            raise WorkerFailure("crashed", f"unreadable worker reply: {exc}")
        except ValueError as exc:  # bad JSON
            raise WorkerFailure("crashed", f"unreadable worker reply: {exc}")
        if reply is None:
            raise WorkerFailure("crashed", self._death_message())
        return reply[0], reply[1], 0.0

    def finish(self):
        """Close stdin and insist that the worker exits cleanly without writing anything more."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        extra = self._read(1)
        if extra:
            raise WorkerFailure("crashed", "the worker replied more than once (a forged reply?)")
        left = max(0.1, self.deadline - time.monotonic())
        try:
            code = self.proc.wait(timeout=left)
        except subprocess.TimeoutExpired:
            raise WorkerFailure("timeout", self._timeout_message())
        if code != 0:
            raise WorkerFailure("crashed", "the worker " + _how(code) + " after replying")

    def after_item(self):
        """Under the uid sandbox, after an item of a pre-started worker: kill what the item left
        running (all of the uid's processes but the worker itself), remove what it left in shared
        folders and IPC, and empty its temporary folder, as the worker does itself inside
        bubblewrap's namespaces."""
        if self._uid is None:
            return
        _clean_uid(self._uid, keep={self.proc.pid}, work=self._tmp.name)
        tmp = Path(self._tmp.name) / "tmp"
        for entry in os.listdir(tmp):
            path = tmp / entry
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    path.unlink()

    def _watch_memory(self):
        """Kill the worker's process group once its tree's resident memory exceeds the limit."""
        while not self._watch_stop.wait(RSS_POLL_S):
            if tree_rss(self.proc.pid) > self.limits.memory_mb << 20:
                self.memory_exceeded = True
                for pid in process_tree(self.proc.pid)[::-1]:  # a pre-started worker's child has its own group
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                return

    def _timeout_message(self):
        return f"timed out after {self.limits.timeout_s:g} s (an infinite loop, or far too slow)"

    def _death_message(self):
        self.kill()
        if self.memory_exceeded:
            return (f"the worker was killed: it used more than {self.limits.memory_mb} MB of memory "
                    "(the resident-memory limit of GPU workers)")
        return (f"the worker {_how(self.proc.returncode)} before reporting a result "
                "(sys.exit/os._exit, a crash, or a resource limit)")

    def stdout(self) -> str:
        self._out.seek(0, os.SEEK_END)
        size = self._out.tell()
        self._out.seek(max(0, size - STDOUT_TAIL))
        text = self._out.read().decode("utf-8", "replace")
        return ("[... output truncated]\n" if size > STDOUT_TAIL else "") + text

    def kill(self):
        """Kill the worker (bwrap takes its whole PID namespace with it; the uid sandbox kills
        every process of the worker's uid) and reap it."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self._uid is not None:
            _clean_uid(self._uid, work=self._tmp.name)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def close(self):
        self._watch_stop.set()
        self.kill()
        for f in (self.proc.stdin,):
            try:
                f.close()
            except OSError:
                pass
        try:
            os.close(self._reply)
        except OSError:
            pass
        self._out.close()
        self._tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Zygote:
    """A pre-started worker for one submission: NumPy imported, sandbox up, no student code.
    `run` forks a fresh child per item that imports the student's modules and runs the calls
    under the item's limits; afterwards the worker kills everything the child left running and
    empties the private /tmp. One item at a time; after a timeout or a crash it is discarded."""

    def __init__(self, submission, *, extra_files=(), device="cpu", sandbox=True):
        self.session = Session(submission, Limits(timeout_s=60), extra_files=extra_files, device=device,
                               sandbox=sandbox, zygote=True)
        self.ok = True

    def run(self, calls, limits: Limits) -> WorkerResult:
        s = self.session
        s.limits, s.deadline = limits, time.monotonic() + limits.timeout_s
        s._out.seek(0, os.SEEK_END)
        mark = s._out.tell()
        try:
            s._send(wire.frame({"op": "fork", "cpu_s": limits.cpu_s, "processes": limits.processes,
                                "calls": [{"driver": c.driver, "spec": c.spec} for c in calls]},
                               {str(i): c.inputs for i, c in enumerate(calls)}))
            header, tree, _ = s.exchange_reply()
            if s.memory_exceeded:  # the watchdog killed the child, and the worker with it
                raise WorkerFailure("crashed", s._death_message())
            if header.get("status") == "exited":
                s.after_item()
                return WorkerResult("crashed", message=f"the worker {_how(_code(header))} before reporting a result "
                                    "(sys.exit/os._exit, a crash, or a resource limit)", stdout=self._stdout(mark))
            done, _, _ = s.exchange_reply()
            s.after_item()
            if done.get("status") != "exited":
                self.ok = False
                return WorkerResult("crashed", message="the worker replied more than once (a forged reply?)",
                                    stdout=self._stdout(mark))
            if _code(done) != 0:
                return WorkerResult("crashed", message="the worker " + _how(_code(done)) + " after replying",
                                    stdout=self._stdout(mark))
            return _result(header, tree, len(calls), self._stdout(mark))
        except WorkerFailure as failure:
            self.ok = False
            s.kill()
            return WorkerResult(failure.status, message=failure.message, stdout=self._stdout(mark))

    def _stdout(self, mark):
        out = self.session._out
        out.seek(0, os.SEEK_END)
        size = out.tell()
        out.seek(max(mark, size - STDOUT_TAIL))
        text = out.read().decode("utf-8", "replace")
        return ("[... output truncated]\n" if size - mark > STDOUT_TAIL else "") + text

    def close(self):
        self.session.close()


def _code(header):
    try:
        return int(header.get("code"))
    except (TypeError, ValueError):
        return None


class WorkerPool:
    """Pre-started workers (`Zygote`) per submission, shared by the grading threads."""

    def __init__(self, *, extra_files=(), device="cpu", sandbox=True):
        self.extra_files, self.device, self.sandbox = tuple(extra_files), device, sandbox
        self._idle, self._lock = {}, threading.Lock()

    def run(self, submission, calls, limits: Limits) -> WorkerResult:
        key = str(submission)
        with self._lock:
            idle = self._idle.setdefault(key, [])
            zygote = idle.pop() if idle else None
        if zygote is None:
            try:
                zygote = Zygote(submission, extra_files=self.extra_files, device=self.device, sandbox=self.sandbox)
            except WorkerFailure as failure:
                return WorkerResult(failure.status, message=failure.message)
        result = zygote.run(calls, limits)
        if zygote.ok:
            with self._lock:
                if key in self._idle:
                    self._idle[key].append(zygote)
                    zygote = None
        if zygote is not None:
            zygote.close()
        return result

    def release(self, submission):
        """Close the workers of a submission that is done."""
        with self._lock:
            idle = self._idle.pop(str(submission), [])
        for z in idle:
            z.close()

    def close(self):
        with self._lock:
            idle = [z for zs in self._idle.values() for z in zs]
            self._idle = {}
        for z in idle:
            z.close()


def process_tree(pid) -> list:
    """`pid` and all its descendants (from /proc/PID/task/TID/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        if p in out:
            continue
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            pass
    return out


def tree_rss(pid) -> int:
    """Resident anonymous and shared-memory bytes of process `pid` and all its descendants (read
    from /proc, which no code in them can write; file-backed pages such as libraries are left out)."""
    total = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith(("RssAnon:", "RssShmem:")):
                        total += int(line.split()[1]) << 10
        except (OSError, ValueError):
            continue
    return total


def _big_pipe(fd):
    """1 MB pipe buffers: a conv layer's input crosses in one go instead of 16 round trips."""
    try:
        import fcntl
        fcntl.fcntl(fd, 1031, 1 << 20)  # F_SETPIPE_SZ
    except (OSError, ImportError):
        pass


def _how(code):
    if code is None:
        return "did not exit"
    return f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"


def run_worker(submission: Path, calls: list, limits: Limits = Limits(), *, extra_files=(),
               device: str = "cpu", sandbox: bool = True, files=None) -> WorkerResult:
    """Run `calls` on the student code in `submission` and return the validated outputs."""
    session = None
    try:
        session = Session(submission, limits, extra_files=extra_files, device=device, sandbox=sandbox, files=files)
        header, tree, _ = session.exchange({"op": "calls", "calls": [{"driver": c.driver, "spec": c.spec} for c in calls]},
                                           {str(i): c.inputs for i, c in enumerate(calls)})
        session.finish()
        return _result(header, tree, len(calls), session.stdout())
    except WorkerFailure as failure:
        return WorkerResult(failure.status, message=failure.message, stdout=session.stdout() if session else "")
    finally:
        if session is not None:
            session.close()


def _result(result: dict, outputs: dict, n_calls: int, stdout: str) -> WorkerResult:
    try:
        status = result["status"]
        if status not in ("ok", "not_attempted", "error"):
            raise ValueError(f"unknown status {status!r}")
        message = str(result.get("message", ""))[:2000]
        if result.get("traceback"):
            message += "\n" + str(result["traceback"])[:2000]
        if status != "ok":
            return WorkerResult(status, message=message, stdout=stdout)
        calls = result["calls"]
        if not isinstance(calls, list) or len(calls) != n_calls:
            raise ValueError("the reply does not match the request")
        types = [{str(k): str(v) for k, v in dict(c.get("types", {})).items()} for c in calls]
        return WorkerResult("ok", [outputs.get(str(i), {}) for i in range(n_calls)], types, stdout=stdout)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return WorkerResult("crashed", message=f"unreadable worker result: {exc}", stdout=stdout)
