"""The student tool's wheel, `dlgrade_student-<version>-py3-none-any.whl`: what a kit, an nbgrader
course's release folder and a notebook's first cell install.

The wheel is built from an explicit list of what students receive (`STUDENT_MODULES`,
`STUDENT_PACKAGES`), never from `grader/` minus a list of exceptions: a module no one named
never leaves the course. What is named is the student's wing (`grader/student/`) and the shared
core that `dlgrade check`, `submit`, `data` and `list` run on: the CLI, the course's discovery,
the result types, the items and the sandbox they run in, the engine's grading path over stored
public cases, and the reports a student reads (table, feedback, figures). Never named: the
instructor's `grader/release/`, the engine's reference oracle (`grader/engine/oracle.py`, the only
engine module that imports `reference`), the class view (`grader/reports/classview.py`),
`reference/`, `solutions/` and known-bug variants. The course's item registries and its own
worker drivers and datasets (no answers in them) travel as `grader/assignments/<a>.py`,
`grader/assignments/_drivers/<a>.py` and `grader/assignments/_datasets.py`, and the manifest `dlgrade submit` reads as
`grader/student_kit.json`. Tests build a kit and import every module of its wheel from the wheel
alone (tests/grader/test_kit.py); docs/kits.md.

The wheel is written directly, as PEP 427 describes, so that building it needs neither network
nor build backend, and byte for byte the same from the same sources (fixed zip timestamps).
"""
import base64
import hashlib
import json
import zipfile
from importlib import metadata
from pathlib import Path

from grader import course
from grader import engine
from grader.sandbox.course_drivers import FILE as DRIVERS_FILE, PACKAGED as PACKAGED_DRIVERS
from grader.student.data import COURSE_FILE as DATASETS_FILE, PACKAGED as PACKAGED_DATASETS
from grader.student.manifest import ReleaseError, manifest_entry

# Single modules of the packages that hold both sides (paths from the repository's root).
STUDENT_MODULES = (
    # the shared core
    "grader/__init__.py", "grader/atomic.py", "grader/course.py", "grader/results.py", "grader/secret.py",
    "grader/assignments/__init__.py",
    # the command line: what every command shares and the student's commands (never `instructor`)
    "grader/cli/__init__.py", "grader/cli/__main__.py", "grader/cli/base.py", "grader/cli/student.py",
    # the import paths of the course's training scripts (facades over grader/student/)
    "grader/data.py", "grader/curves.py", "grader/training.py",
    # the engine's grading path: `check` grades the public items against the kit's stored cases;
    # `run` (class runs with resume records) because the engine's package imports it. Never
    # `oracle.py`, which runs `reference/` (the package imports it only when its names are used)
    "grader/engine/__init__.py", "grader/engine/registry.py", "grader/engine/intake.py",
    "grader/engine/grading.py", "grader/engine/public.py", "grader/engine/run.py",
    # what a student reads: the table, JSON, feedback text and its figures (never the class view)
    "grader/reports/__init__.py", "grader/reports/report.py", "grader/reports/feedback.py",
    "grader/reports/figures.py",
)
# Packages every module of which goes to students: their own wing, the items and the sandbox.
STUDENT_PACKAGES = ("grader/student", "grader/items", "grader/sandbox")

DIST = "dlgrade_student"
DEPENDENCIES = ("numpy>=1.26", "click>=8.1", "matplotlib>=3.7")  # matplotlib: the feedback's figures
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def version() -> str:
    try:
        return metadata.version("dlgrade")
    except metadata.PackageNotFoundError:
        return "0.1.0"


def wheel_name() -> str:
    """The file name `build_wheel` writes."""
    return f"{DIST}-{version()}-py3-none-any.whl"


def manifest(root: Path, assignments=None, default=None) -> dict:
    """The wheel's `grader/student_kit.json`: what `dlgrade submit` packs for each assignment
    (`grader.student.manifest`); every assignment of the course unless `assignments` names some."""
    out = {a: manifest_entry(a, root) for a in (engine.assignments() if assignments is None else assignments)}
    return {"assignments": out, "default": default}


def student_modules(root: Path):
    """(path in the wheel, source file) of every module students receive: `STUDENT_MODULES` and
    every module of `STUDENT_PACKAGES`, in path order. A named module or package that is not in
    `root` is a ReleaseError (a renamed module must be renamed here, never silently dropped)."""
    root = Path(root)
    out = {}
    for rel in STUDENT_MODULES:
        if not (root / rel).is_file():
            raise ReleaseError(f"{rel} is named in grader/release/wheel.py's STUDENT_MODULES but does not exist")
        out[rel] = root / rel
    for package in STUDENT_PACKAGES:
        if not (root / package / "__init__.py").is_file():
            raise ReleaseError(f"{package} is named in grader/release/wheel.py's STUDENT_PACKAGES but is not a package")
        for path in (root / package).rglob("*.py"):
            if "__pycache__" not in path.parts:
                out[path.relative_to(root).as_posix()] = path
    return sorted(out.items())


def course_drivers(root: Path) -> list:
    """(assignment, drivers file) of every `solutions/<a>/drivers.py` of the course: the kit's tool
    carries them as `grader/assignments/_drivers/<a>.py` (`grader.sandbox.course_drivers`)."""
    return [(p.parent.name, p) for p in sorted((Path(root) / "solutions").glob(f"*/{DRIVERS_FILE}"))
            if course.NAME.match(p.parent.name)]


def zip_write(zf, name, data: bytes, mode=0o644):
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (0o100000 | mode) << 16
    zf.writestr(info, data)


def build_wheel(root: Path, out_dir: Path, manifest_data: dict) -> Path:
    """Write the student tool's wheel into `out_dir`, carrying `manifest_data` (see `manifest`)."""
    ver = version()
    info = f"{DIST}-{ver}.dist-info"
    files = {name: path.read_bytes() for name, path in student_modules(root)}
    for name, path in course.registries(root):  # the item registries (no answers in them)
        files[f"grader/assignments/{name}.py"] = path.read_bytes()
    for name, path in course_drivers(root):  # the course's own worker drivers (no answers in them)
        files[f"grader/assignments/{PACKAGED_DRIVERS}/{name}.py"] = path.read_bytes()
    datasets = Path(root) / "solutions" / DATASETS_FILE
    if datasets.is_file():  # the course's datasets and their loaders (`grader.student.data`)
        files[f"grader/assignments/{PACKAGED_DATASETS}"] = datasets.read_bytes()
    files["grader/student_kit.json"] = (json.dumps(manifest_data, indent=1, sort_keys=True) + "\n").encode()
    files[f"{info}/METADATA"] = "\n".join(
        ["Metadata-Version: 2.1", "Name: dlgrade-student", f"Version: {ver}",
         "Summary: dlgrade's student tool: check, data, submit",
         "Requires-Python: >=3.10", *(f"Requires-Dist: {d}" for d in DEPENDENCIES), ""]).encode()
    files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: dlgrade\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files[f"{info}/entry_points.txt"] = b"[console_scripts]\ndlgrade = grader.cli:main\n"
    files[f"{info}/top_level.txt"] = b"grader\n"
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    out = Path(out_dir) / wheel_name()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in files.items():
            zip_write(zf, name, data)
    return out
