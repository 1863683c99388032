"""A course's own worker drivers: `solutions/<a>/drivers.py`, next to the assignment's registry.

A course adds a kind of call without editing `grader/`: its drivers file defines functions with
the `@driver` decorator of `grader.sandbox.drivers` (and, for a trained-model driver, its cost
with `@planner`), importing NumPy and `grader.sandbox.drivers` only, since it also runs inside
the sandbox. Its items then make `Call("<name>", spec, inputs)`.

Both sides of the boundary use the same file:
- the trusted parent loads it on the first call of a name the grader does not define (`find`),
  for the reference run; a name is defined once in the whole course (`DriverError` otherwise); a
  name loaded from another course (the course folder changed in this process, as in tests) is
  loaded again from this one;
- a worker gets the source of the course drivers files its calls need in the frame that carries
  the calls (`frame`), and runs it before any student code: nothing of the course is mounted in
  the sandbox.

Where the files are found: `solutions/<a>/drivers.py` under the course root (a repository, or the
course an installed wheel carries as `dlgrade_course`), then those a student kit's tool carries
as `grader/assignments/_drivers/<a>.py`.
"""
import importlib.util
import sys
import threading
from pathlib import Path

from .driverbase import DRIVERS

FILE = "drivers.py"          # solutions/<a>/drivers.py
PACKAGED = "_drivers"        # grader/assignments/_drivers/<a>.py in a student kit's tool
_LOCK = threading.RLock()    # items grade in threads: a file is loaded once, fully
_LOADED = set()              # course drivers files loaded here (resolved paths)
ORIGIN = {}                  # driver name -> the course file that defines it
COURSE_MODULE = "grader.course_drivers."  # the module name a course drivers file runs as
GRADER_MODULE = __name__.rpartition(".")[0] + "."  # the grader's own drivers: grader.sandbox.*


class DriverError(KeyError):
    """A call of a driver nobody defines, or a course drivers file that cannot be used (one line)."""

    def __str__(self):
        return str(self.args[0]) if self.args else ""


def paths() -> dict:
    """{assignment: drivers file} of the course, then of a kit's packaged copies."""
    from grader import course
    found = {}
    for path in sorted((course.root() / "solutions").glob(f"*/{FILE}")):
        found.setdefault(path.parent.name, path)
    for path in sorted((course.PACKAGED / PACKAGED).glob("*.py")):
        found.setdefault(path.stem, path)
    return {name: Path(path).resolve() for name, path in found.items() if course.NAME.match(name)}


def load(path: Path):
    """Run one course drivers file here (the trusted parent) and record the drivers it defines."""
    path = Path(path).resolve()
    with _LOCK:
        if path in _LOADED:
            return
        before = dict(DRIVERS)
        key = f"{COURSE_MODULE}{path.parent.name if path.name == FILE else path.stem}"
        spec = importlib.util.spec_from_file_location(key, path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            DRIVERS.clear()
            DRIVERS.update(before)
            raise DriverError(f"{path}: the course's drivers cannot be loaded ({type(exc).__name__}: {exc})") from None
        new = [name for name in DRIVERS if before.get(name) is not DRIVERS[name]]
        current = set(paths().values())
        clash = [name for name in new if name in before and (_grader_defines(before[name]) or
                                                            ORIGIN.get(name, path) in current - {path})]
        if clash:
            DRIVERS.clear()
            DRIVERS.update(before)
            where = ORIGIN.get(clash[0], "the grader (grader/sandbox/drivers.py)")
            raise DriverError(f"{path}: driver {clash[0]!r} is already defined by {where}")
        sys.modules[key] = module
        _LOADED.difference_update(ORIGIN[name] for name in new if name in ORIGIN)  # another course's file: stale
        _LOADED.add(path)
        ORIGIN.update({name: path for name in new})


def find(name: str) -> bool:
    """Whether driver `name` is defined, loading the course's drivers files until one defines it."""
    with _LOCK:
        current = paths()
        known = dict.get(DRIVERS, name)
        if known is not None and (_grader_defines(known) or ORIGIN.get(name) in current.values()):
            return True
        for path in current.values():  # not yet loaded, or loaded from a course that is no longer this one
            if known is not None and ORIGIN.get(name) != path:
                _LOADED.discard(path)  # loaded before the name was taken over: run it again
            load(path)
            if dict.__contains__(DRIVERS, name) and ORIGIN.get(name) == path:
                return True
        return False


def _grader_defines(fn) -> bool:
    """Whether driver `fn` is one of the grader's own (grader/sandbox/*.py), not a course file's (nor
    one a script registered by running a course file by hand)."""
    return getattr(fn, "__module__", "").startswith(GRADER_MODULE)


def frame(calls) -> dict:
    """What a worker's request frame carries besides the calls: `{"course": [{"file", "source"}]}`,
    the course drivers files the calls need, in order ({} when they need none: the grader's own
    drivers are the worker's files)."""
    files = []
    for call in calls:
        if not find(call.driver):
            raise DriverError(f"no driver {call.driver!r}: the grader has none and no course drivers file "
                              f"defines one (solutions/<a>/{FILE}: docs/authoring.md)")
        path = ORIGIN.get(call.driver)
        if path is not None and path not in files:
            files.append(path)
    if not files:
        return {}
    return {"course": [{"file": f"{p.parent.name}/{p.name}", "source": p.read_text()} for p in files]}


DRIVERS.finder = find
