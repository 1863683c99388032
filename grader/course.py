"""Which assignments a course has: discovered from files, never listed in the grader's code.

An assignment `<a>` is a folder `solutions/<a>/` of the course that holds `grading.py`, its
item registry (see docs/authoring.md). The registry is imported as `grader.assignments.<a>` and
defines:

- `ITEMS`: the graded items, in order (instances of the classes in `grader.items.core`);
- `ORDER` (optional): where the assignment sits in the course (the week); `dlgrade list` and
  the defaults of `release` follow it, then the name;
- `DATA` (optional): the datasets its items and training script read (`dlgrade data fetch` names);
- `EARLIER` (optional): files that come from earlier assignments, `{"layers.py": "mlp/layers.py"}`
  (released as those assignments' stubs unless the instructor gives them: `grader.release.stubs`);
- `TRAIN` (optional): the training commands the kit's README shows (default `python train.py`).

The first paragraph of its docstring is the title `dlgrade list` shows.

The course root is `$DLGRADE_COURSE` (or `dlgrade --course DIR`), else the course installed
with this package (`root`); never the current folder. A student kit's tool carries its
registries inside the package (`grader/assignments/<a>.py`), so `dlgrade check` finds them
without any course folder.
"""
import importlib
import importlib.abc
import importlib.util
import os
import re
import sys
import threading
from pathlib import Path

REGISTRY = "grading.py"       # solutions/<a>/grading.py: the item registry of assignment <a>
INSTRUCTOR_FILES = {REGISTRY, "mutants.py"}  # in solutions/<a>/, never released as stubs
PACKAGE = "grader.assignments"
PACKAGED = Path(__file__).with_name("assignments")  # registries inside a student kit's tool
INSTALLED = "dlgrade_course"  # a wheel's copy of the course's grading files (pyproject.toml)
NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
_LOADING = threading.RLock()  # guards `load_object`'s imports of course files


class CourseError(Exception):
    """A course folder or registry that cannot be used (one-line message)."""


def root() -> Path:
    """The course root: the folder holding `solutions/` (and `docs/`).

    `$DLGRADE_COURSE` (set by `dlgrade --course DIR`) when given; else the course installed with
    this package: the repository itself for an editable install, or the course's grading files
    that a wheel built from it carries (`dlgrade_course/`: registries, known bugs, contracts).
    Never the current folder: a folder of submissions must not define the course."""
    env = os.environ.get("DLGRADE_COURSE")
    if env:
        return Path(env).expanduser().resolve()
    return installed()


def installed() -> Path:
    """The course installed with this package (see `root`)."""
    repository = Path(__file__).resolve().parents[1]
    if (repository / "solutions").is_dir():
        return repository
    return repository / INSTALLED


def registry_path(name: str):
    """The registry file of assignment `name`, or None when there is none."""
    if not NAME.match(name):
        return None
    for path in (root() / "solutions" / name / REGISTRY, PACKAGED / f"{name}.py"):
        if path.is_file():
            return path
    return None


def _names():
    """The course's registries and those packaged in this tool (a student kit's)."""
    packaged = {p.stem for p in PACKAGED.glob("*.py") if NAME.match(p.stem)}
    return sorted(packaged | {name for name, _ in registries(root())})


def load(name: str):
    """The registry module of assignment `name` (imported once)."""
    path = registry_path(name)
    if path is None:
        raise CourseError(f"unknown assignment {name!r} (one of: {', '.join(discover()) or 'none found'})")
    return importlib.import_module(f"{PACKAGE}.{name}")


def title(name: str) -> str:
    """The first paragraph of a registry's docstring ("The `mlp` assignment: layers, ..."), on one line."""
    return " ".join((load(name).__doc__ or "").strip().split("\n\n")[0].split())


def source(name: str) -> str:
    """Where the registry of `name` was found (for `dlgrade list`)."""
    path = registry_path(name)
    try:
        return str(path.relative_to(root()))
    except ValueError:
        return str(path)


def discover() -> tuple:
    """Every assignment of the course, in course order."""
    modules = {n: load(n) for n in _names()}
    return tuple(sorted(modules, key=lambda n: (getattr(modules[n], "ORDER", 99), n)))


def registries(root_dir: Path):
    """(name, registry file) of every assignment under `root_dir/solutions`, for packing into a
    student kit's tool or an autograder (they hold items and case makers, never answers)."""
    return [(p.parent.name, p) for p in sorted((Path(root_dir) / "solutions").glob(f"*/{REGISTRY}"))
            if NAME.match(p.parent.name)]


def data(name: str) -> tuple:
    """The datasets assignment `name` reads (its registry's `DATA`)."""
    return tuple(getattr(load(name), "DATA", ()))


def load_object(path: str):
    """`"module:Name"` (an importable module) or `"solutions/<a>/mutants.py:Name"` (a file of
    the course, relative to its root) -> the object."""
    module, _, name = path.partition(":")
    if module.endswith(".py"):
        file = (root() / module).resolve()
        key = "grader.course_files." + re.sub(r"\W", "_", str(file))
        with _LOADING:  # items grade in threads: a module is seen only once fully executed
            if key not in sys.modules:
                spec = importlib.util.spec_from_file_location(key, file)
                if spec is None or not file.is_file():
                    raise CourseError(f"{module}: not found under the course root {root()}")
                mod = importlib.util.module_from_spec(spec)
                sys.modules[key] = mod
                try:
                    spec.loader.exec_module(mod)
                except BaseException:
                    del sys.modules[key]
                    raise
        return getattr(sys.modules[key], name)
    return getattr(importlib.import_module(module), name)


class _RegistryFinder(importlib.abc.MetaPathFinder):
    """Imports `grader.assignments.<a>` from `solutions/<a>/grading.py` of the course."""

    def find_spec(self, fullname, path=None, target=None):
        prefix, _, name = fullname.rpartition(".")
        if prefix != PACKAGE:
            return None
        file = registry_path(name)
        if file is None or file.parent == PACKAGED:
            return None  # a packaged registry: the normal import finds it
        return importlib.util.spec_from_file_location(fullname, file)


def install_finder():
    if not any(isinstance(f, _RegistryFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _RegistryFinder())
