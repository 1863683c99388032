"""What the trusted path of `dlgrade nbgrader autograde` reads from `submitted/<student>/<a>/`.

Only the names it knows (the source notebooks' names, an earlier assignment's files, the items'
weights, timestamp.txt), each a regular file with one name, opened through no link and read up
to a cap (`read_member`). A notebook is parsed as JSON and only the bodies of its `%%writefile`
cells for the assignment's modules are taken (`extract_modules`: the notebook is never
executed); its cells are kept for the feedback notebook with every output dropped
(`feedback_cells`). Anything else makes that submission ungraded, with the reason, and never
stops the others.
"""
import copy
import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from grader import engine
from grader.sandbox import runner

WRITEFILE = re.compile(r"^%%writefile(\s+(-a|--append))?\s+(\S+)\s*$")

MAX_NOTEBOOK_BYTES = 10 << 20           # a submitted notebook
MAX_CELLS = 5000                        # cells in a submitted notebook
MAX_MODULE_BYTES = runner.MAX_SOURCE    # a module as the %%writefile cells write it; an earlier file
MAX_DATA_BYTES = runner.MAX_FILE        # a weights file
MAX_TIMESTAMP_BYTES = 256
TIMESTAMP = "timestamp.txt"
_NO_LINK_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


def _size(n: int) -> str:
    return f"{n / (1 << 20):g} MB" if n >= 1 << 20 else f"{n} bytes"


def _kind(st) -> str:
    mode = st.st_mode
    for test, name in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "not a regular file"


def _open_dir(name: str, dir_fd: int, where: str) -> int:
    """A descriptor of the folder `name` in `dir_fd`, never reached through a link."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if not stat.S_ISDIR(st.st_mode):
            raise engine.GradeError(f"{where} is {_kind(st)}, not a folder")
        return os.open(name, _NO_LINK_DIR, dir_fd=dir_fd)
    except OSError as exc:
        raise engine.GradeError(f"{where} cannot be read ({exc.strerror})") from None


def _check_member(name: str, st, cap: int):
    if not stat.S_ISREG(st.st_mode):
        raise engine.GradeError(f"{name} is {_kind(st)}: only regular files are graded, hand in the file itself")
    if st.st_nlink > 1:
        raise engine.GradeError(f"{name} is a hard link (one file with {st.st_nlink} names): hand in a copy")
    if st.st_size > cap:
        raise engine.GradeError(f"{name} is larger than {_size(cap)}")


def read_member(dir_fd: int, name: str, cap: int):
    """The bytes of the file `name` in the folder `dir_fd`, None when there is none. GradeError for
    anything but a regular file with one name (a symbolic or hard link, FIFO, device, socket,
    folder) or a file over `cap` bytes: checked with lstat, opened with O_NOFOLLOW, checked again
    on the open descriptor, never read past `cap`."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise engine.GradeError(f"{name} cannot be read ({exc.strerror})") from None
    _check_member(name, st, cap)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY, dir_fd=dir_fd)
    except OSError as exc:
        raise engine.GradeError(f"{name} cannot be read ({exc.strerror})") from None
    try:
        opened = os.fstat(fd)
        if (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino):
            raise engine.GradeError(f"{name} was replaced while it was read")
        _check_member(name, opened, cap)
        chunks, left = [], cap + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    if left <= 0:
        raise engine.GradeError(f"{name} is larger than {_size(cap)}")
    return b"".join(chunks)


def parse_notebook(data: bytes, name: str) -> dict:
    """A submitted notebook's JSON: a dict with a list of at most `MAX_CELLS` cells; GradeError
    (one line) for anything else. Parsing is linear in the bytes, capped at `MAX_NOTEBOOK_BYTES`."""
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise engine.GradeError(f"{name} is larger than {_size(MAX_NOTEBOOK_BYTES)}")
    try:
        nb = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise engine.GradeError(f"{name} is not a notebook (not JSON: {type(exc).__name__})") from None
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        raise engine.GradeError(f"{name} is not a notebook (no list of cells)")
    if len(cells) > MAX_CELLS:
        raise engine.GradeError(f"{name} has {len(cells)} cells, more than {MAX_CELLS}")
    return nb


def read_notebook(path: Path) -> dict:
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        data = read_member(fd, path.name, MAX_NOTEBOOK_BYTES)
    finally:
        os.close(fd)
    if data is None:
        raise engine.GradeError(f"{path.name}: no such file")
    return parse_notebook(data, path.name)


def _source(cell):
    """A cell's source as one string; None when it is neither a string nor a list of strings."""
    source = cell.get("source", "")
    if isinstance(source, list) and all(isinstance(s, str) for s in source):
        return "".join(source)
    return source if isinstance(source, str) else None


def _utf8(text: str) -> str:
    return text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates (valid in JSON) -> '?'


def extract_modules(notebook, modules, files=None) -> dict:
    """{module: code} from the `%%writefile` cells of a submitted notebook (a path, read as
    `read_member` does, or its parsed JSON), never executed; only the named modules, as IPython
    would have written them, appending to `files` (what earlier notebooks wrote). Linear in the
    notebook's size (each cell's body is kept once, joined at the end); a module that ends up over
    `MAX_MODULE_BYTES` is a GradeError."""
    nb = notebook if isinstance(notebook, dict) else read_notebook(Path(notebook))
    modules = set(modules)
    parts = {name: [code] for name, code in (files or {}).items()}
    for cell in nb.get("cells", []) if isinstance(nb.get("cells"), list) else []:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = _source(cell)
        if source is None:
            continue
        first, _, body = source.partition("\n")
        m = WRITEFILE.match(first)
        if not m or m.group(3) not in modules:
            continue
        name = m.group(3)
        if body and not body.endswith("\n"):
            body += "\n"
        body = _utf8(body)
        if not m.group(1):
            parts[name] = []
        parts.setdefault(name, []).append(body)
    files = {name: "".join(p) for name, p in parts.items()}
    for name, code in files.items():
        if len(code.encode("utf-8")) > MAX_MODULE_BYTES:
            raise engine.GradeError(f"{name}, as the notebook's %%writefile cells write it, is larger than "
                                 f"{_size(MAX_MODULE_BYTES)}")
    return files


CELL_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
NBGRADER_KEYS = ("grade", "grade_id", "locked", "points", "schema_version", "solution", "task")


def feedback_cells(nb: dict, known: dict = None) -> list:
    """The cells of a submitted notebook as its feedback shows them: type, id and source only, every
    output dropped (the student's copy could say anything). A cell keeps nbgrader's metadata only
    when its grade_id is one of `known` ({grade_id: the source notebook's metadata}, which it then
    gets, once), so `nbgrader generate_feedback` looks up only cells of the gradebook; without
    `known`, the cell's own scalar nbgrader metadata is kept."""
    out, ids, used = [], set(), set()
    for k, cell in enumerate(nb.get("cells", []) if isinstance(nb.get("cells"), list) else []):
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            continue
        meta = cell.get("metadata")
        nbg = meta.get("nbgrader") if isinstance(meta, dict) else None
        gid = nbg.get("grade_id") if isinstance(nbg, dict) else None
        trusted = {}
        if isinstance(gid, str) and gid not in used:
            if known is None:
                trusted = {key: v for key, v in nbg.items() if key in NBGRADER_KEYS and (
                    isinstance(v, (bool, int, float)) or (isinstance(v, str) and len(v) <= 200))}
            elif gid in known:
                trusted = copy.deepcopy(known[gid])
            if trusted:
                used.add(gid)
        cid = cell.get("id")
        if not (isinstance(cid, str) and CELL_ID.match(cid)) or cid in ids:
            cid = f"cell-{k}"
        ids.add(cid)
        new = {"cell_type": cell["cell_type"], "id": cid, "metadata": {"nbgrader": trusted} if trusted else {},
               "source": _utf8(_source(cell) or "")}
        if new["cell_type"] == "code":
            new.update(execution_count=None, outputs=[])
        out.append(new)
    return out


@dataclass
class Source:
    """What the instructor's source notebooks say (trusted)."""
    notebooks: list   # their file names: the only notebooks read from a submission
    modules: set      # the modules their %%writefile cells write
    earlier: set      # the student's own files from an earlier assignment
    known: dict       # {grade_id: nbgrader metadata} of their cells
    secret: set = field(default_factory=set)  # sha256 of the source notebooks


def source_notebooks(source_dir: Path, assignment: str) -> Source:
    paths = sorted(source_dir.glob("*.ipynb"))
    if not paths:
        raise engine.GradeError(f"no source notebook in {source_dir}: run `dlgrade release {assignment} --nbgrader "
                             f"{source_dir.parent.parent}`")
    src = Source([p.name for p in paths], set(), set(), {})
    for path in paths:
        nb = json.loads(path.read_text())
        meta = nb["metadata"].get("dlgrade", {})
        src.modules |= set(meta.get("modules", []))
        src.earlier |= {n for n in meta.get("earlier", []) if "/" not in n}  # plain names: read with dir_fd
        for cell in nb["cells"]:
            nbg = cell.get("metadata", {}).get("nbgrader")
            if nbg and nbg.get("grade_id"):
                src.known[nbg["grade_id"]] = {k: v for k, v in nbg.items() if k in NBGRADER_KEYS}
    # `nbgrader collect` copies the exchange with shutil.copytree, which follows links as you: a
    # student's link there to a source notebook arrives in submitted/ as a plain copy of it. (The
    # answer key's weights are not refused this way: handing them in is how a course tests itself.)
    src.secret = {_digest(p.read_bytes()) for p in paths}
    return src


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Intake:
    """One student's submission as the trusted path read it."""
    student: str
    work: Path                                        # the folder graded: given code + the student's files
    feedback: dict = field(default_factory=dict)      # {notebook name: file of its feedback_cells}
    timestamp: object = None
    error: str = ""


def student_names(submitted: Path, assignment: str, students) -> list:
    """The names in `submitted/` with something at `<name>/<assignment>` (a folder, or a link or
    file there, which `intake` then refuses with the reason)."""
    if not submitted.is_dir():
        return []
    return sorted(e.name for e in os.scandir(submitted) if (students is None or e.name in students)
                  and os.path.lexists(submitted / e.name / assignment))


def _parse_timestamp(data):
    """nbgrader's timestamp.txt, or None when it says nothing parseable (it is never an error: the
    exchange writes it). Only a time and a zone name with no path in it reach dateutil (which
    would open a zone file by name)."""
    from nbgrader.utils import parse_utc
    try:
        text = data.decode("ascii").strip()
        if not re.fullmatch(r"[0-9T:.+\- ]+( [A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*)?", text) or ".." in text:
            return None
        return parse_utc(text)
    except (ValueError, OverflowError, TypeError, LookupError):
        return None


def _own(data, name: str, src: Source):
    """`data`, unless it is byte for byte one of the instructor's files (`Source.secret`)."""
    if data is not None and _digest(data) in src.secret:
        raise engine.GradeError(f"{name} is a copy of the instructor's source notebook, not the student's work")
    return data


def intake(submitted_fd: int, student: str, assignment: str, src: Source, tmp: Path) -> Intake:
    """Read one student's folder (see `read_member`) into a fresh work folder: the modules their
    notebook's %%writefile cells write, their earlier files and weights. Any refusal is that
    student's error (`Intake.error`), never the batch's."""
    x = Intake(student, tmp / "work")
    x.work.mkdir(parents=True)
    files, codes = {}, {}
    try:
        student_fd = _open_dir(student, submitted_fd, f"submitted/{student}")
        try:
            folder_fd = _open_dir(assignment, student_fd, f"submitted/{student}/{assignment}")
        finally:
            os.close(student_fd)
        try:
            for name in sorted(src.earlier):  # the student's own files from an earlier assignment
                data = read_member(folder_fd, name, MAX_MODULE_BYTES)
                if data is not None:
                    files[name] = data
            for name in src.notebooks:  # only the assignment's own notebooks; other .ipynb files are ignored
                data = _own(read_member(folder_fd, name, MAX_NOTEBOOK_BYTES), name, src)
                if data is None:
                    continue
                nb = parse_notebook(data, name)
                del data
                codes = extract_modules(nb, src.modules, codes)
                x.feedback[name] = tmp / f"feedback-{len(x.feedback)}.json"
                x.feedback[name].write_text(json.dumps(feedback_cells(nb, src.known)))
                del nb
            for name in engine.data_files(assignment):  # the items' weights
                data = read_member(folder_fd, name, MAX_DATA_BYTES)
                if data is not None:
                    files[name] = data
            stamp = read_member(folder_fd, TIMESTAMP, MAX_TIMESTAMP_BYTES)
            x.timestamp = None if stamp is None else _parse_timestamp(stamp)
        finally:
            os.close(folder_fd)
    except engine.GradeError as exc:
        x.error = str(exc)
        return x
    return fill(x, files, codes)


def fill(x: Intake, files: dict, codes: dict) -> Intake:
    for name, data in files.items():
        (x.work / name).write_bytes(data)
    for name, code in codes.items():  # the notebook's modules over an earlier file of the same name
        (x.work / name).write_bytes(code.encode("utf-8"))
    return x
