"""The worker: the only process that imports student code.

Run as `python -I -S -B worker.py REPLY_FD SITE` (inside bubblewrap, see `runner.py`) with the
submission copy as working directory and NumPy (and CuPy) in SITE, one folder or several joined
by os.pathsep. It reads frames (`wire.frame`) from
stdin: first the request (limits, the uid to become), then work: `calls` (run drivers) or, in a
timing session, `build`/`forward`/`backward` on one layer. It drops to its own uid, applies
resource limits, blocks imports of the grader's own packages and of libraries that would do the
student's work (a second layer: the sandbox does not contain them), imports the student's
modules and writes one reply frame per frame to REPLY_FD. Nothing it writes is trusted: the
parent validates and compares everything, and times the speed items itself.
"""
import importlib.abc
import importlib.machinery
import importlib.util
import os
import resource
import signal
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
BLOCKED = ("grader", "reference", "solutions", "torch", "tensorflow", "jax", "scipy",
           "sklearn", "cupyx.scipy")


def _load(name, filename):
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, filename))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _load_drivers():
    """The drivers, imported as the private package `_dlgrade` (this folder: drivers.py and the
    files it imports relatively)."""
    spec = importlib.machinery.ModuleSpec("_dlgrade", None, is_package=True)
    package = importlib.util.module_from_spec(spec)
    package.__path__ = [HERE]
    sys.modules["_dlgrade"] = package
    return importlib.import_module("_dlgrade.drivers")


def _course_drivers(files, drivers):
    """Run the course's own drivers files (their source, sent by the parent, which read it from
    the course: `grader.sandbox.course_drivers`) before any student code: they register with
    `@driver` and import `grader.sandbox.drivers`, which is this worker's drivers package here."""
    sys.modules["grader.sandbox.drivers"] = drivers
    try:
        for k, f in enumerate(files):
            module = type(sys)(f"_dlgrade_course_{k}")
            exec(compile(f["source"], f"<course drivers {f['file']}>", "exec"), module.__dict__)
    finally:
        del sys.modules["grader.sandbox.drivers"]


def _load_reference():
    """The reference layers by name, imported under a private package name (speed items)."""
    root = os.path.join(os.path.dirname(HERE), "reference")
    spec = importlib.util.spec_from_file_location("_dlgrade_ref", os.path.join(root, "__init__.py"),
                                                  submodule_search_locations=[root])
    package = importlib.util.module_from_spec(spec)
    sys.modules["_dlgrade_ref"] = package
    spec.loader.exec_module(package)
    names = {}
    for sub in ("layers", "conv"):
        module = importlib.import_module(f"_dlgrade_ref.{sub}")
        names.update({k: v for k, v in vars(module).items() if isinstance(v, type)})
        names.update(getattr(module, "SPEED_YARDSTICKS", {}))  # e.g. the textbook im2col Conv2d
    return names


def _forbid_reading(roots):
    """An audit hook refusing to open files under `roots` (the grader, references, solutions).

    Audit hooks cannot be removed from Python code; like the import blocker they are a
    deterrent, not a sandbox (docs/security.md, "The sandbox")."""
    roots = tuple(os.path.realpath(r) + os.sep for r in roots)

    def hook(event, args):
        if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
            path = os.fsdecode(args[0])
            if os.path.realpath(path).startswith(roots):
                raise PermissionError(f"dlgrade: submissions may not read {path}")
    sys.addaudithook(hook)


class _Blocker(importlib.abc.MetaPathFinder):
    """Refuse imports of the grader, the references, solutions and ML libraries."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname.startswith("_dlgrade") or any(
                fullname == b or fullname.startswith(b + ".") for b in BLOCKED):
            raise ImportError(f"dlgrade: submissions may not import {fullname!r}")
        return None


def _drop_privileges(uid):
    """Become `uid` for good (the sandbox started us as a capability-less root that may only
    change its uid)."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise SystemExit("dlgrade worker: could not drop privileges")


def _limit(request):
    mb = 1 << 20
    limits = request["limits"]
    if limits.get("address_space", True):  # not with CUDA: the parent watches resident memory
        resource.setrlimit(resource.RLIMIT_AS, (limits["memory_mb"] * mb,) * 2)
    if request.get("zygote"):  # CPU time and processes are limited per item, in each child
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_mb"] * mb,) * 2)
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"],) * 2)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        return
    resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu_s"], limits["cpu_s"] + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_mb"] * mb,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"],) * 2)
    if "uid" in request:  # one uid per worker: the process count is this worker's alone
        resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"],) * 2)
    # A write past RLIMIT_FSIZE then fails with an OSError instead of killing the process.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _limit_child(header, own_uid):
    """Per item, in the child of a pre-started worker: its CPU time starts at zero."""
    cpu = int(header["cpu_s"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    if own_uid:
        resource.setrlimit(resource.RLIMIT_NPROC, (int(header["processes"]),) * 2)


def _clean_up(pid, sandboxed):
    """After an item: kill whatever the child left running, empty the private /tmp, /dev/shm and
    /dev/mqueue and remove the System V IPC objects of the sandbox's IPC namespace, so that
    nothing an item starts, writes or shares reaches the next item (a hidden item's inputs
    stashed for a public one to print, for example)."""
    if sandboxed:  # alone in PID and IPC namespaces: every other process but init is the item's
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        for folder in ("/tmp", "/dev/shm", "/dev/mqueue"):
            _empty(folder)
        _remove_sysv_ipc()
    else:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
    while True:  # reap what is ours
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):
                break
        except ChildProcessError:
            break


def _empty(folder):
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        path = os.path.join(folder, name)
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                import shutil
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
        except OSError:
            pass


SYSV_IPC = {"shm": "shmctl", "msg": "msgctl", "sem": "semctl"}  # /proc/sysvipc/<kind>: remover
IPC_RMID = 0


def _remove_sysv_ipc():
    """Remove every System V shared-memory segment, message queue and semaphore set that the
    sandbox's IPC namespace holds (all of them were made by items: nothing else runs there)."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    for kind, remover in SYSV_IPC.items():
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            ident = int(row.split()[1])
            if kind == "sem":
                libc.semctl(ident, 0, IPC_RMID)
            else:
                getattr(libc, remover)(ident, IPC_RMID, None)


def _student_frames(tb_text, sub_dir):
    """The last traceback lines that point into the submission (file, line and code)."""
    lines = tb_text.rstrip().splitlines()
    keep = []
    for i, line in enumerate(lines):
        if line.strip().startswith("File ") and sub_dir in line:
            keep.extend(lines[i:i + 2])
    return "\n".join(keep[-6:]).replace(sub_dir + "/", "")


def _read(n):
    return os.read(0, n)


def _readinto(view):
    return os.readv(0, [view])


def main(reply_fd, site):
    reply_fd = int(reply_fd)
    sys.path.extend(site.split(os.pathsep))
    import numpy as np  # before the limits: importing NumPy maps a lot of address space
    wire = _load("_dlgrade_wire", "wire.py")
    request, _ = wire.read_frame(_read, 1 << 20)
    if "uid" in request:
        _drop_privileges(int(request["uid"]))
    drivers = _load_drivers()
    yardstick = _load_reference() if request.get("reference") else {}
    cupy = None
    if request.get("device") == "cuda":
        import cupy  # importing touches no device: a pre-started worker may still fork
    _limit(request)
    sys.meta_path.insert(0, _Blocker())
    _forbid_reading([HERE] + [os.path.join(os.path.dirname(HERE), d) for d in ("reference", "solutions")]
                    + [str(p) for p in request.get("forbid", [])])
    for name in [m for m in sys.modules if m.startswith("_dlgrade")]:
        del sys.modules[name]
    sub_dir = os.getcwd()
    sys.path.insert(0, sub_dir)

    def resolve(module, name):
        if yardstick:  # a trusted timing session: the reference, and no student code at all
            return yardstick[name]
        return getattr(importlib.import_module(module), name)

    def reply(header, tree=None):
        for part in wire.frame_parts(header, tree):
            view = memoryview(part)
            while view:
                view = view[os.write(reply_fd, view):]

    gpu_ready = []  # the pid that set up the device: CUDA is set up after a pre-started worker forks

    def device(tree):
        if cupy is None:
            return tree
        if gpu_ready != [os.getpid()]:
            # A guard, not a boundary (student code can lift it): CuPy's pool refuses to grow past
            # the worker's memory limit. The parent bounds host memory; see runner.py.
            cupy.get_default_memory_pool().set_limit(size=int(request["limits"]["memory_mb"]) << 20)
            gpu_ready[:] = [os.getpid()]
        return wire.unflatten({k: cupy.asarray(v) for k, v in wire.flatten(tree).items()})

    def failure(exc):
        if isinstance(exc, NotImplementedError):
            return {"status": "not_attempted", "message": "raises NotImplementedError"}
        tb = _student_frames(traceback.format_exc(), sub_dir)
        return {"status": "error", "message": f"{type(exc).__name__}: {exc}"[:500], "traceback": tb[-2000:]}

    def plain(out, prefix=""):
        flat, types = {}, {}
        for key, value in wire.flatten(out).items():
            if type(value) is not np.ndarray and not (cupy is not None and type(value) is cupy.ndarray):
                types[key] = type(value).__name__
            try:
                value = wire.to_numpy(value)
            except Exception:
                continue
            if type(value) is np.ndarray and value.dtype.kind in wire.ALLOWED_KINDS:
                flat[prefix + key] = value
        return flat, types

    reply({"status": "ready"})  # the parent now finds this process to read its CPU time
    layers, caches = {}, {}
    while True:
        message = wire.read_frame(_read, 1 << 31, readinto=_readinto)
        if message is None:
            break
        header, inputs = message
        op = header.get("op")
        if op == "fork":  # a pre-started worker: run the calls in a fresh child, then clean up
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                try:
                    os.setpgid(0, 0)
                    _limit_child(header, "uid" in request)
                    op = "calls"
                except BaseException:
                    os._exit(70)
            else:
                _, status = os.waitpid(pid, 0)
                _clean_up(pid, request.get("sandboxed", False))
                reply({"status": "exited", "code": os.waitstatus_to_exitcode(status)})
                continue
        if op == "calls":  # run drivers; stop at the first failure
            result, outputs = {"status": "ok", "calls": []}, {}
            try:
                _course_drivers(header.get("course", ()), drivers)
            except BaseException as exc:  # the course's file, not the student's code
                result = {"status": "error", "message": f"the course's drivers cannot be loaded: "
                                                        f"{type(exc).__name__}: {exc}"[:500]}
            for i, call in enumerate(header["calls"] if result["status"] == "ok" else ()):
                try:
                    out = drivers.DRIVERS[call["driver"]](resolve, call["spec"], device(inputs.get(str(i), {})))
                    flat, types = plain(out, f"{i}/")
                except BaseException as exc:  # SystemExit and KeyboardInterrupt from student code too
                    result = failure(exc)
                    if result["status"] == "not_attempted":
                        result["message"] = f"{call['spec'].get('name')} raises NotImplementedError"
                    outputs = {}
                    break
                outputs.update(flat)
                result["calls"].append({"types": types})
            sys.stdout.flush()
            reply(result, wire.unflatten(outputs))
            if header.get("op") == "fork":  # the child of a pre-started worker
                os._exit(0)
        else:  # a timing session: build a layer, run its forward or backward on fresh inputs
            slot = str(header.get("slot", "0"))
            try:
                data = device(inputs)
                if op == "build":
                    layers[slot] = resolve(header["module"], header["name"])(**header["kwargs"])
                    out = {}
                elif op == "forward":
                    y, caches[slot] = layers[slot].forward(data["x"], data.get("params", {}))
                    out = {"y": y} if header.get("send", True) else {}
                elif op == "probe":  # `repeat` forward (and backward) passes in one exchange
                    for _ in range(int(header.get("repeat", 1))):
                        y, cache = layers[slot].forward(data["x"], data.get("params", {}))
                        if header.get("part") == "backward":
                            layers[slot].backward(data["dy"], cache)
                    out = {}
                elif op == "backward":
                    dx, grads = layers[slot].backward(data["dy"], caches.pop(slot))
                    out = {"dx": dx, "grads": dict(grads)}
                else:
                    raise ValueError(f"unknown op {op!r}")
                if cupy is not None:
                    cupy.cuda.Device().synchronize()
                flat, types = plain(out)
                reply({"status": "ok", "types": types}, wire.unflatten(flat))
            except BaseException as exc:
                reply(failure(exc))
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown: student atexit hooks and __del__ must not run


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
