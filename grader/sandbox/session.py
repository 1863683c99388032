"""One worker process and the exchange of frames with it (`Session`): started in the sandbox
(`grader.sandbox.isolation`), fed a request frame on stdin, read from a pipe of its own, timed
and watched here, in the parent, where student code cannot reach the clock or the memory counts."""
import contextlib
import itertools
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from grader.sandbox import wire
from grader.sandbox.calls import Limits, WorkerFailure, how
from grader.sandbox.intake import submission_files, write_files
from grader.sandbox.isolation import (HERE, INSIDE, PACKAGE, TOP, UID_BASE, UID_SLOTS, WORKER_FILES, SandboxError,
                                      bwrap_args, clean_uid, worker_env, packages, python, sandbox_kind,
                                      sandbox_problem)

STDOUT_TAIL = 2000  # characters of student output kept for feedback
MAX_REPLY = 512 << 20  # bytes of one reply frame's body
RSS_POLL_S = 0.02  # how often the memory watchdog of a CUDA worker looks (seconds)
_uids = itertools.count()
_UID_OFFSET = os.getpid() * 1009 % UID_SLOTS  # concurrent graders mostly use different uids


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
            cmd = bwrap_args(work, limits, device, uid=uid, reference=reference) + [
                python(), "-I", "-S", "-B", f"{INSIDE}/worker/worker.py", str(reply_w), f"{INSIDE}/site"]
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
                for name, path in packages(device):
                    os.symlink(path, os.path.join(site, name))
            else:  # every folder holding a package the worker may import (CuPy may live apart from NumPy)
                site = os.pathsep.join(dict.fromkeys(str(Path(path).parent) for _, path in packages(device)))
            cmd = [python(), "-I", "-S", "-B", str(link / "worker.py"), str(reply_w), site]
            cwd = sub
        env = worker_env(limits, device)
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
            raise WorkerFailure("crashed", "the worker " + how(code) + " after replying")

    def after_item(self):
        """Under the uid sandbox, after an item of a pre-started worker: kill what the item left
        running (all of the uid's processes but the worker itself), remove what it left in shared
        folders and IPC, and empty its temporary folder, as the worker does itself inside
        bubblewrap's namespaces."""
        if self._uid is None:
            return
        clean_uid(self._uid, keep={self.proc.pid}, work=self._tmp.name)
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
        return (f"the worker {how(self.proc.returncode)} before reporting a result "
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
            clean_uid(self._uid, work=self._tmp.name)
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

