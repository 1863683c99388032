"""Intake: from what an instructor names on the command line (a folder, a .zip) to a
grader-owned copy of the files grading reads.

`unpack` extracts a zip safely; `assignment_folder` finds the folder that holds the assignment's
files; `snapshot` copies its regular files (never a link, FIFO or device); `content_hash` names
a submission's content (resume keys, per-submission salts); `syntax_errors`, `gradable` and
`missing_modules` are the warnings given before anything runs.
"""
import hashlib
import os
import stat
from pathlib import Path

from grader import course
from grader.engine.registry import items
from grader.items import TrustedItem
from grader.results import GradeError
from grader.sandbox.runner import SubmissionError, submission_files, write_files

MAX_ZIP_BYTES = 200 << 20
MAX_ZIP_MEMBERS = 5000
LINKED = "a symbolic link: name the folder or .zip itself (a link is never followed)"


EMPTY = "nothing to grade: no .py file and no weights file in the submission"
MAX_DEPTH = 6  # folders below the submission's root searched for the assignment's files


def data_files(assignment):
    """The non-Python files of a submission some item reads (weights, data)."""
    names = set()
    for item in items(assignment):
        names.update(item.files)
        if isinstance(item, TrustedItem) and item.weights:
            names.add(item.weights)
    return sorted(names)


def weights_files(assignment) -> list:
    """The weights files a submission's trained models are graded from, in item order."""
    return [item.weights for item in items(assignment) if isinstance(item, TrustedItem) and item.weights]


def snapshot(sub: Path, into: Path, assignment: str) -> Path:
    """Copy a submission folder's regular `.py` and data files into `into` (see
    `runner.submission_files`); the answer keys' links between `solutions/` folders are kept."""
    if sub.is_symlink():
        raise GradeError(LINKED)
    if not sub.is_dir():
        raise GradeError(f"{sub}: not a folder")
    sub = assignment_folder(sub, assignment)
    try:
        within = answer_key_links(sub)
        files = submission_files(sub, data_files(assignment), links_within=within)
    except SubmissionError as exc:
        raise GradeError(str(exc))
    if not files:
        raise GradeError(EMPTY)
    into.mkdir(parents=True)
    write_files(files, into)
    return into


def answer_key_links(sub: Path):
    """The folder within which `sub`'s links are followed: the `solutions/` folder of a course
    when `sub` is an answer key there (`<course>/solutions/<a>/`, with its registry), whose
    files link to an earlier assignment's (`cnn/layers.py -> ../mlp/layers.py`); this course's or
    a checkout graded with an installed dlgrade. None for anything else: a submission's links
    are never followed, nor those of a path that is itself a link to an answer key."""
    real = Path(os.path.realpath(sub))
    if real == Path(os.path.abspath(sub)) and real.parent.name == "solutions" and (real / course.REGISTRY).is_file():
        return real.parent
    return None


_RELEASED = {}


def expected_files(assignment) -> set:
    """The names of an assignment's files in a submission: the modules its items declare, its
    data files and, where the course knows them, the `.py` files released to students."""
    names = set(data_files(assignment))
    for item in items(assignment):
        if item.module and not isinstance(item, TrustedItem):
            names.add(f"{item.module}.py")
    key = (assignment, str(course.root()))
    if key not in _RELEASED:
        from grader.student.manifest import manifest
        try:
            _RELEASED[key] = {Path(f).name for f in manifest(assignment).get("files", ()) if "/" not in f}
        except (GradeError, OSError):  # a course installed without its answer keys: the declared names
            _RELEASED[key] = set()
    return names | _RELEASED[key]


def assignment_folder(folder: Path, assignment: str) -> Path:
    """The folder of a submission that holds the assignment's files: `folder` itself when it holds
    any of them, else the one subfolder (with the folders inside it) that does, however deep, so
    `mlp/layers.py` beside `other/` or `__MACOSX/` is found. Files found in several unrelated
    folders raise GradeError naming them: which copy is the submission is the student's call."""
    folder = Path(folder)
    wanted = expected_files(assignment)
    if any((folder / name).is_file() for name in wanted):
        return folder
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        here = Path(dirpath)
        depth = len(here.relative_to(folder).parts)
        dirnames[:] = sorted(d for d in dirnames if depth < MAX_DEPTH and not d.startswith((".", "__MACOSX"))
                             and d != "__pycache__" and not os.path.islink(here / d))
        names = sorted(wanted & {f for f in filenames if (here / f).is_file() and not (here / f).is_symlink()})
        if names:
            found[here] = names
    if not found:
        return folder
    outer = [d for d in found if not any(o != d and d.is_relative_to(o) for o in found)]
    if len(outer) == 1:
        return outer[0]
    where = "; ".join(f"{d.relative_to(folder).as_posix()}/ ({', '.join(found[d])})" for d in outer)
    raise GradeError(f"the assignment's files are in {len(outer)} separate folders: {where}; "
                     f"submit one folder that holds them all")


def unpack(path: Path, into: Path) -> Path:
    """A submission folder from a folder or a .zip (extracted safely into `into`).

    Zip members are extracted one by one, as regular files only (links, devices and FIFOs
    stored in the archive are skipped), each path checked to stay inside `into`; an encrypted
    or corrupt member, or more than `MAX_ZIP_BYTES` unpacked, makes the submission ungradable.
    Single top-level folders (however deeply nested) are descended into."""
    import zipfile
    import zlib
    path = Path(path)
    if path.is_symlink():  # a link to an answer key or a classmate's folder grades that
        raise GradeError(LINKED)
    if path.is_dir():
        return path
    if not path.exists():
        raise GradeError("no such file or folder")
    if not path.is_file():  # a FIFO or a device: never opened
        raise GradeError("not a folder or a .zip file")
    try:
        if not zipfile.is_zipfile(path):
            raise GradeError("not a folder or a .zip file")
        into.mkdir(parents=True, exist_ok=True)
        root = into.resolve()
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
            if len(members) > MAX_ZIP_MEMBERS:
                raise GradeError(f"more than {MAX_ZIP_MEMBERS} files in the zip")
            if sum(m.file_size for m in members) > MAX_ZIP_BYTES:
                raise GradeError(f"unpacks to more than {MAX_ZIP_BYTES >> 20} MB")
            written = 0
            for m in members:
                kind = stat.S_IFMT(m.external_attr >> 16)  # 0 when the archiver stored no type
                if m.is_dir() or (kind and kind != stat.S_IFREG):
                    continue
                parts = [p for p in m.filename.replace("\\", "/").split("/") if p not in ("", ".")]
                if not parts or ".." in parts or m.filename.startswith(("/", "\\")) or ":" in parts[0]:
                    continue
                if m.flag_bits & 0x1:
                    raise GradeError(f"{m.filename}: encrypted zip members cannot be graded")
                target = root.joinpath(*parts)
                if not target.resolve().is_relative_to(root) or target.resolve() == root:
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(m) as src, open(target, "xb") as dst:
                    while chunk := src.read(1 << 20):
                        written += len(chunk)
                        if written > MAX_ZIP_BYTES:
                            raise GradeError(f"unpacks to more than {MAX_ZIP_BYTES >> 20} MB")
                        dst.write(chunk)
    except GradeError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, RuntimeError,
            NotImplementedError, ValueError) as exc:
        raise GradeError(f"cannot unpack the zip: {exc}")
    folder = into
    while True:
        entries = [p for p in folder.iterdir() if not p.name.startswith(("__MACOSX", "."))]
        if len(entries) == 1 and entries[0].is_dir():
            folder = entries[0]
        else:
            return folder


def syntax_errors(folder: Path) -> list:
    """One line per submission file that does not compile (nothing is executed; links, FIFOs
    and devices are never read)."""
    errors = []
    try:
        files = submission_files(Path(folder))
    except SubmissionError:
        return errors
    for rel, source in sorted(files.items()):
        try:
            compile(source, rel, "exec")
        except SyntaxError as exc:
            errors.append(f"{rel}:{exc.lineno}: SyntaxError: {exc.msg}")
        except ValueError as exc:
            errors.append(f"{rel}: {exc}")
    return errors


def gradable(folder: Path, assignment: str) -> bool:
    """Whether the folder holds any file grading reads (a `.py` file or a declared data file)."""
    try:
        return bool(submission_files(Path(folder), data_files(assignment)))
    except SubmissionError as exc:
        raise GradeError(str(exc))


def content_hash(folder: Path, assignment: str) -> str:
    """sha256 over the files grading reads (names and bytes): a changed resubmission differs."""
    digest = hashlib.sha256()
    for name, data in sorted(submission_files(Path(folder), data_files(assignment)).items()):
        digest.update(name.encode() + b"\0" + len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()


def missing_modules(assignment, folder: Path, selected) -> dict:
    """{"layers.py": number of selected items that need it} for student modules not in `folder`."""
    out = {}
    try:
        present = set(submission_files(assignment_folder(Path(folder), assignment)))
    except GradeError:  # ambiguous: said once, as the submission's error
        return out
    except SubmissionError:
        present = set()
    for item in selected:
        name = f"{item.module}.py"
        if item.module and not isinstance(item, TrustedItem) and name not in present:
            out[name] = out.get(name, 0) + 1
    return out
