"""The worker: the only process that imports student code.

Run as `python -I worker.py IO_DIR` with the submission copy as working directory. It reads
`IO_DIR/request.json` and `IO_DIR/inputs.npz`, applies resource limits, blocks imports of the
grader's own packages and of libraries that would do the student's work, imports the student's
modules, runs the requested drivers and writes `IO_DIR/outputs.npz` and `IO_DIR/result.json`.
Nothing it writes is trusted: the parent validates and compares everything.
"""
import importlib.abc
import importlib.util
import json
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
    deterrent, not a sandbox (see the README's limits)."""
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
        if fullname.startswith("_dlgrade_") or any(
                fullname == b or fullname.startswith(b + ".") for b in BLOCKED):
            raise ImportError(f"dlgrade: submissions may not import {fullname!r}")
        return None


def _limit(request):
    mb = 1 << 20
    limits = request["limits"]
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_mb"] * mb,) * 2)
    resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu_s"], limits["cpu_s"] + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_mb"] * mb,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # A write past RLIMIT_FSIZE then fails with an OSError instead of killing the process.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _student_frames(tb_text, sub_dir):
    """The last traceback lines that point into the submission (file, line and code)."""
    lines = tb_text.rstrip().splitlines()
    keep = []
    for i, line in enumerate(lines):
        if line.strip().startswith("File ") and sub_dir in line:
            keep.extend(lines[i:i + 2])
    return "\n".join(keep[-6:]).replace(sub_dir + "/", "")


def main(io_dir):
    with open(os.path.join(io_dir, "request.json")) as f:
        request = json.load(f)
    import numpy as np  # before the limits: importing NumPy maps a lot of address space
    wire = _load("_dlgrade_wire", "wire.py")
    drivers = _load("_dlgrade_drivers", "drivers.py")
    yardstick = _load_reference() if any(c["driver"] == "speed" for c in request["calls"]) else {}
    inputs = wire.load(os.path.join(io_dir, "inputs.npz"))
    if request.get("device") == "cuda":
        import cupy
        inputs = wire.unflatten({k: cupy.asarray(v) for k, v in wire.flatten(inputs).items()})
    _limit(request)
    sys.meta_path.insert(0, _Blocker())
    _forbid_reading([HERE] + [os.path.join(os.path.dirname(HERE), d) for d in ("reference", "solutions")])
    for name in [m for m in sys.modules if m.startswith("_dlgrade_")]:
        del sys.modules[name]
    sub_dir = os.getcwd()
    sys.path.insert(0, sub_dir)

    def resolve(module, name):
        if module == "@reference":  # the speed yardstick, loaded before any student code
            return yardstick[name]
        return getattr(importlib.import_module(module), name)

    result = {"status": "ok", "calls": []}
    outputs = {}
    for i, call in enumerate(request["calls"]):
        try:
            out = drivers.DRIVERS[call["driver"]](resolve, call["spec"], inputs.get(str(i), {}))
        except NotImplementedError:
            result = {"status": "not_attempted", "message": f"{call['spec'].get('name')} raises NotImplementedError"}
            break
        except BaseException as exc:  # SystemExit and KeyboardInterrupt from student code too
            tb = _student_frames(traceback.format_exc(), sub_dir)
            result = {"status": "error", "message": f"{type(exc).__name__}: {exc}"[:500], "traceback": tb[-2000:]}
            break
        flat, types = {}, {}
        for key, value in wire.flatten(out).items():
            if type(value) is not np.ndarray:
                types[key] = type(value).__name__
            try:
                value = wire.to_numpy(value)
            except Exception:
                continue
            if value.dtype.kind in wire.ALLOWED_KINDS:
                flat[f"{i}/{key}"] = value
        outputs.update(flat)
        result["calls"].append({"types": types})
    wire.save(os.path.join(io_dir, "outputs.tmp.npz"), wire.unflatten(outputs))
    os.replace(os.path.join(io_dir, "outputs.tmp.npz"), os.path.join(io_dir, "outputs.npz"))
    with open(os.path.join(io_dir, "result.tmp.json"), "w") as f:
        json.dump(result, f)
    os.replace(os.path.join(io_dir, "result.tmp.json"), os.path.join(io_dir, "result.json"))
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown: student atexit hooks and __del__ must not run


if __name__ == "__main__":
    main(sys.argv[1])
