"""nbgrader, both ways: source notebooks generated from `solutions/`, and the trusted autograder.

`release(assignment, root, course)` writes `course/source/<a>/<a>.ipynb` and the files it needs,
the student tool's wheel included (`nbgrader generate_assignment` copies them all to
`release/<a>/`; the notebook's first cell says how to install the wheel).
The notebook is made from the same marked regions as the `.py` stubs (one source of truth): every
module with solution regions becomes `%%writefile` cells, one per top-level class or function
(the first `%%writefile NAME`, the others `%%writefile -a NAME`), so running the notebook writes
the modules into its folder. Cells holding a region are nbgrader solution cells (regions between
`### BEGIN SOLUTION` / `### END SOLUTION`); the others are read-only. Then one locked, autograded
test cell per item (`grade_id` from the item id, its points) calls `grader.student.notebook.score`.
Hidden items' cells hold the same call, with no `### BEGIN HIDDEN TESTS` region: nbgrader stores
a locked cell's checksum before it strips such a region, so `nbgrader autograde` would report
every untampered hidden cell as changed (jupyter/nbgrader#1961); the call hides nothing anyway
(in a student's environment it only says the item is graded by the instructor). Cell metadata
follows nbgrader's schema v3.

`autograde(course, assignment)` is the trusted path: from `submitted/<student>/<a>/` it reads
only the names it knows (the source notebooks' names, earlier files, weights, timestamp.txt),
each a regular file with one name, opened through no link and read up to a cap (`read_member`);
it parses the notebook as JSON and takes only the bodies of its `%%writefile` cells for the
assignment's modules (the notebook is never executed), grades them in sandboxed workers like
`dlgrade grade`, writes the scores into nbgrader's gradebook through nbgrader's API (`nbgrader
export` and formgrader show them), and writes `autograded/<student>/<a>/`, which
`nbgrader generate_feedback` hands to the student whole: only the feedback notebook (the
submitted cells' sources, outputs cleared, and as the output of each grade cell what the student
may see of that item). The instructor's full report goes to `dlgrade_reports/<student>/<a>/`.
A submission refused or not gradable is that student's error, never the batch's.
"""
import ast
import copy
import hashlib
import html
import json
import os
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from grader import engine
from grader.sandbox import runner
from grader.sandbox import wire
from grader.release.stubs import BEGIN, END, ReleaseError, earlier_files, released, released_text

NB_BEGIN, NB_END = "### BEGIN SOLUTION", "### END SOLUTION"
WRITEFILE = re.compile(r"^%%writefile(\s+(-a|--append))?\s+(\S+)\s*$")

CONFIG = '''# Written by `dlgrade release --nbgrader`; edit as you like (it is not overwritten).
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.root = {root!r}
# Each test cell runs one item in a worker; trained-model items evaluate 10,000 images.
c.Execute.timeout = 600
c.ClearSolutions.code_stub = {{"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}}
# Files a student copies in from an earlier assignment: `nbgrader autograde` keeps the student's own
# (it would otherwise put back the stub from source/).
c.Autograde.exclude_overwriting = {keep!r}
'''


def grade_id(item_id: str) -> str:
    """nbgrader's grade_id for an item (`^[a-zA-Z0-9_-]*$`): `mlp.linear.forward` -> `mlp-linear-forward`."""
    return item_id.replace(".", "-")


def _meta(gid, *, grade=False, solution=False, locked=False, points=None):
    md = {"grade": grade, "grade_id": gid, "locked": locked, "schema_version": 3, "solution": solution}
    if points is not None:
        md["points"] = points
    return {"nbgrader": md}


def _cell(kind, source, metadata=None):
    cell = {"cell_type": kind, "metadata": metadata or {}, "source": source}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def notebook_modules(assignment: str, root: Path) -> list:
    """The modules students write in the notebook: released files with solution regions, those
    taken from an earlier assignment aside (the student copies in their own)."""
    sol = root / "solutions" / assignment
    earlier = earlier_files(assignment, root)
    return [str(rel) for rel in released(assignment, root) if rel.suffix == ".py" and str(rel) not in earlier
            and BEGIN in (sol / rel).read_text()]


def chunks(text: str) -> list:
    """The module split before every top-level class or function (decorators and the comments
    right above it included); consecutive pieces without a solution region are merged."""
    lines = text.splitlines(keepends=True)
    starts = []
    for node in ast.parse(text).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            start = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
            while start > 0 and lines[start - 1].lstrip().startswith("#") and lines[start - 1].strip() not in (BEGIN, END):
                start -= 1
            starts.append(start)
    bounds = sorted({0, *starts, len(lines)})
    pieces = ["".join(lines[a:b]).strip("\n") for a, b in zip(bounds, bounds[1:])]
    merged = []
    for piece in filter(None, pieces):
        if merged and BEGIN not in piece and BEGIN not in merged[-1]:
            merged[-1] += "\n\n\n" + piece
        else:
            merged.append(piece)
    return merged


def _nbgrader_markers(text: str) -> str:
    out = []
    for line in text.split("\n"):
        indent = line[:len(line) - len(line.lstrip())]
        if line.strip() == BEGIN:
            line = indent + NB_BEGIN
        elif line.strip() == END:
            line = indent + NB_END
        out.append(line)
    return "\n".join(out)


def _own_earlier(assignment: str, root: Path) -> dict:
    """{earlier assignment: [files]} the student copies in: those released as an earlier stub."""
    from grader.release.stubs import earlier_header
    out = {}
    for rel, (earlier, name) in sorted(earlier_files(assignment, root).items()):
        if released_text(assignment, root, rel).startswith(earlier_header(earlier, name)):
            out.setdefault(earlier, []).append(rel)
    return out


SETUP = """\
try:
    from grader.student.notebook import score
except ImportError:
    raise ImportError("the student tool is not installed in this kernel: run  %pip install {wheel}") from None"""


def wheel_name() -> str:
    """The file name of the student tool's wheel, as `grader.release.kit.build_wheel` writes it."""
    from grader.release.kit import DIST, version
    return f"{DIST}-{version()}-py3-none-any.whl"


def source_notebook(assignment: str, root: Path, wheel: str = None) -> dict:
    """The nbgrader source notebook of `assignment` (with solutions), as a JSON-ready dict;
    `wheel` is the file name of the student tool's wheel next to it."""
    from grader.course import data
    items = engine.items(assignment)
    modules = notebook_modules(assignment, root)
    wheel = wheel or wheel_name()
    weights = [i for i in items if getattr(i, "weights", "")]
    datasets = data(assignment)
    hidden = [i for i in items if i.visibility == "hidden"]
    cells = [_cell("markdown", (
        f"# The `{assignment}` assignment\n\n"
        f"**Install the student tool first** (once, in the environment of this notebook's kernel): "
        f"run this in a cell, then restart the kernel\n\n"
        f"```\n%pip install {wheel}\n```\n\n"
        f"(or `pip install {wheel}` in a terminal, in this folder). The wheel is in this folder."
        + (f" The items that read data need it on your machine: `!dlgrade data fetch "
           f"{' '.join(datasets)}` downloads and verifies it." if datasets else "")
        + f"\n\nFill in every `raise NotImplementedError()` below, following `CONTRACT.md`. Run the cells in "
        f"order: each `%%writefile` cell writes part of a module ({', '.join(f'`{m}`' for m in modules)}) "
        f"into this folder, and each test cell grades one item on those files in a separate process "
        f"(its last line is the points you earned)."
        + (f" {len(hidden)} hidden items ({sum(i.points for i in hidden):g} points) are graded by your "
           f"instructor; their cells say so." if hidden else "")
        + "".join(f"\n\nThis assignment builds on your own `{a}` work: copy your "
                  f"{', '.join(f'`{n}`' for n in names)} into this folder, over the stubs, and hand "
                  f"them in with this notebook." for a, names in _own_earlier(assignment, root).items())
        + (f"\n\nTrained weights: run `python train.py` in this folder; submit "
           f"{', '.join(f'`{i.weights}`' for i in weights)} with this notebook." if weights else "")),
        _meta("intro", locked=True))]
    cells.append(_cell("code", SETUP.format(wheel=wheel), _meta("setup", locked=True)))
    sol = root / "solutions" / assignment
    for module in modules:
        text = (sol / module).read_text()
        cells.append(_cell("markdown", f"## `{module}`", _meta(f"{grade_id(module)}-title", locked=True)))
        for k, piece in enumerate(chunks(text)):
            magic = f"%%writefile {module}\n" if k == 0 else f"%%writefile -a {module}\n\n\n"
            gid = f"{grade_id(module.removesuffix('.py'))}-{k}"
            if BEGIN in piece:
                cells.append(_cell("code", magic + _nbgrader_markers(piece), _meta(gid, solution=True)))
            else:
                cells.append(_cell("code", magic + piece, _meta(gid, locked=True)))
    cells.append(_cell("markdown", "## Tests\n\nOne cell per graded item; run the cells above first.",
                       _meta("tests-title", locked=True)))
    for item in items:
        source = f"score({item.id!r})"
        if item.visibility == "hidden":
            source = f"# hidden: graded by your instructor, with cases you do not see\n{source}"
        cells.append(_cell("code", source, _meta(grade_id(item.id), grade=True, locked=True, points=item.points)))
    for cell in cells:  # nbformat 4.5 cell ids: stable across releases
        cell["id"] = cell["metadata"]["nbgrader"]["grade_id"]
    return {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                         "language_info": {"name": "python"},
                         "dlgrade": {"assignment": assignment, "modules": modules,
                                     "earlier": sorted(earlier_files(assignment, root))}}}


def release(assignment: str, root: Path, course: Path) -> Path:
    """Write `course/source/<a>/`: the notebook, the other released files (given code, train.py),
    CONTRACT.md and the public cases; and `course/nbgrader_config.py` when there is none."""
    from grader.release.kit import build_wheel, contract, manifest
    course = Path(course).resolve()
    target = course / "source" / assignment
    sol = root / "solutions" / assignment
    if not sol.is_dir():
        raise ReleaseError(f"{sol} not found (run from the course repository's root)")
    modules = set(notebook_modules(assignment, root))
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for rel in released(assignment, root):  # given code; an earlier assignment's files as its stubs
        if str(rel) in modules or rel.suffix != ".py":
            continue
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        (target / rel).write_text(released_text(assignment, root, rel))
    engine.save_public_cases(assignment, target)
    (target / "CONTRACT.md").write_text(contract(assignment, root))
    wheel = build_wheel(root, target, manifest(root, default=assignment))  # what the setup cell imports
    nb = target / f"{assignment}.ipynb"
    nb.write_text(json.dumps(source_notebook(assignment, root, wheel.name), indent=1) + "\n")
    config = course / "nbgrader_config.py"
    if not config.exists():
        keep = {a: sorted(earlier_files(a, root)) for a in engine.assignments()}
        config.write_text(CONFIG.format(course_id=course.name, root=str(course),
                                        keep={a: f for a, f in keep.items() if f}))
    return nb


# --------------------------------------------------------------------------- trusted autograde
# What the trusted path reads from `submitted/<student>/<a>/`: the names it knows and nothing else
# (the source notebooks' names, an earlier assignment's files, the items' weights, timestamp.txt).
# Each is a regular file with one name, opened through no link, read up to its cap; anything else
# makes that submission ungraded, with the reason, and never stops the others.
MAX_NOTEBOOK_BYTES = 10 << 20           # a submitted notebook
MAX_CELLS = 5000                        # cells in a submitted notebook
MAX_MODULE_BYTES = runner.MAX_SOURCE    # a module as the %%writefile cells write it; an earlier file
MAX_DATA_BYTES = runner.MAX_FILE        # a weights file
MAX_TIMESTAMP_BYTES = 256
TIMESTAMP = "timestamp.txt"
REPORTS = "dlgrade_reports"             # COURSE/dlgrade_reports/<student>/<a>/dlgrade_report.json: the instructor's
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


def _read_notebook(path: Path) -> dict:
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
    nb = notebook if isinstance(notebook, dict) else _read_notebook(Path(notebook))
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
class Graded:
    student: str
    report: object
    notebooks: list


def _course_config(course: Path):
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader
    config = Config()
    if (course / "nbgrader_config.py").is_file():
        config.merge(PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config())
    config.CourseDirectory.root = str(course)
    return config


@dataclass
class _Source:
    """What the instructor's source notebooks say (trusted)."""
    notebooks: list   # their file names: the only notebooks read from a submission
    modules: set      # the modules their %%writefile cells write
    earlier: set      # the student's own files from an earlier assignment
    known: dict       # {grade_id: nbgrader metadata} of their cells
    secret: set = field(default_factory=set)  # sha256 of the source notebooks


def _source_notebooks(source_dir: Path, assignment: str) -> _Source:
    paths = sorted(source_dir.glob("*.ipynb"))
    if not paths:
        raise engine.GradeError(f"no source notebook in {source_dir}: run `dlgrade release {assignment} --nbgrader "
                             f"{source_dir.parent.parent}`")
    src = _Source([p.name for p in paths], set(), set(), {})
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
class _Intake:
    """One student's submission as the trusted path read it."""
    student: str
    work: Path                                        # the folder graded: given code + the student's files
    feedback: dict = field(default_factory=dict)      # {notebook name: file of its feedback_cells}
    timestamp: object = None
    error: str = ""


def _students(submitted: Path, assignment: str, students) -> list:
    """The names in `submitted/` with something at `<name>/<assignment>` (a folder, or a link or
    file there, which `_intake` then refuses with the reason)."""
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


def _own(data, name: str, src: _Source):
    """`data`, unless it is byte for byte one of the instructor's files (`_Source.secret`)."""
    if data is not None and _digest(data) in src.secret:
        raise engine.GradeError(f"{name} is a copy of the instructor's source notebook, not the student's work")
    return data


def _intake(submitted_fd: int, student: str, assignment: str, src: _Source, tmp: Path) -> _Intake:
    """Read one student's folder (see `read_member`) into a fresh work folder: the modules their
    notebook's %%writefile cells write, their earlier files and weights. Any refusal is that
    student's error (`_Intake.error`), never the batch's."""
    x = _Intake(student, tmp / "work")
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
    return _fill(x, files, codes)


def _fill(x: _Intake, files: dict, codes: dict) -> _Intake:
    for name, data in files.items():
        (x.work / name).write_bytes(data)
    for name, code in codes.items():  # the notebook's modules over an earlier file of the same name
        (x.work / name).write_bytes(code.encode("utf-8"))
    return x


def _not_graded(assignment: str, student: str, error: str):
    """The report of a submission refused before grading: every item an error worth 0."""
    return engine.Report(assignment, student, [
        engine.ItemResult(i.id, 0.0, i.points, "error", i.visibility, engine.NOT_GRADED,
                       trained=bool(getattr(i, "trusted", False))) for i in engine.items(assignment)], error=error)


def autograde(course: Path, assignment: str, *, jobs: int = 2, opts: engine.Options = None, students=None) -> list:
    """Grade `course/submitted/*/<assignment>/` in workers; write the gradebook. Returns [Graded].

    A submission that cannot be read safely (`_intake`) or graded at all is that student's error:
    0 points in every grade cell, flagged `needs_manual_grade` for formgrader, the reason in its
    report and at the top of its feedback notebook; every other student is graded."""
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.coursedir import CourseDirectory

    course = Path(course).resolve()
    coursedir = CourseDirectory(config=_course_config(course))
    source_dir = course / "source" / assignment
    src = _source_notebooks(source_dir, assignment)
    submitted = course / "submitted"
    names = _students(submitted, assignment, students)
    results = []
    with tempfile.TemporaryDirectory(prefix="dlgrade-nbgrader-") as tmp:
        intakes = []
        submitted_fd = os.open(submitted, os.O_RDONLY | os.O_DIRECTORY) if names else None
        try:
            for k, student in enumerate(names):
                x = _intake(submitted_fd, student, assignment, src, Path(tmp, str(k)))
                if not x.error:
                    for given in source_dir.glob("*.py"):  # given code from the instructor, as in nbgrader
                        if not (x.work / given.name).exists():
                            shutil.copyfile(given, x.work / given.name)
                intakes.append(x)
        finally:
            if submitted_fd is not None:
                os.close(submitted_fd)
        ok = [x for x in intakes if not x.error]
        reports = engine.grade_many(assignment, [x.work for x in ok], opts=opts or engine.Options(), jobs=jobs) if ok else []
        by_student = dict(zip((x.student for x in ok), reports))
        for x in intakes:
            report = by_student.get(x.student) or _not_graded(assignment, x.student, x.error)
            report.submission = x.student
            results.append(Graded(x.student, report, [Path(n).stem for n in x.feedback]))
        _write_gradebook(course, coursedir, assignment, src, intakes, results, Gradebook, MissingEntry)
    return results


def _write_gradebook(course, coursedir, assignment, src, intakes, results, Gradebook, MissingEntry):
    import warnings
    try:
        from sqlalchemy.exc import SAWarning
    except ImportError:  # pragma: no cover - nbgrader depends on SQLAlchemy
        SAWarning = Warning
    with warnings.catch_warnings(), Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        warnings.simplefilter("ignore", SAWarning)  # nbgrader's add_submission, not ours
        try:
            gradebook_notebooks = [nb.name for nb in gb.find_assignment(assignment).notebooks]
        except MissingEntry:
            raise engine.GradeError(f"{assignment} is not in the gradebook: run `nbgrader generate_assignment {assignment}` first")
        for x, g in zip(intakes, results):
            gb.update_or_create_student(g.student)
            try:
                submission = gb.find_submission(assignment, g.student)
                if x.timestamp:
                    submission.timestamp = x.timestamp
            except MissingEntry:
                gb.add_submission(assignment, g.student, **({"timestamp": x.timestamp} if x.timestamp else {}))
            by_cell = {grade_id(i.id): i for i in g.report.items}
            for nb_name in gradebook_notebooks:
                for grade in gb.find_submission_notebook(nb_name, assignment, g.student).grades:
                    item = by_cell.get(grade.name)
                    if item is not None:
                        grade.auto_score = item.score
                        grade.needs_manual_grade = bool(g.report.error)  # formgrader lists it for a look
            gb.db.commit()
            _write_outputs(course, assignment, src, x, g.report)


def _fresh_folder(path: Path):
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)


def _write_outputs(course: Path, assignment: str, src: _Source, x: _Intake, report):
    """`autograded/<student>/<a>/`, which `nbgrader generate_feedback` copies to the student whole,
    holds the feedback notebooks and nothing else; the instructor's report (hidden items' details
    included) goes to `dlgrade_reports/<student>/<a>/`."""
    out = course / "autograded" / x.student / assignment
    _fresh_folder(out)
    for name in src.notebooks:
        if name in x.feedback:
            cells = json.loads(x.feedback[name].read_text())
        elif report.error:
            cells = []  # the notebook was refused or never read: the feedback says why
        else:
            continue
        (out / name).write_text(feedback_notebook(cells, report))
    mine = course / REPORTS / x.student / assignment
    mine.mkdir(parents=True, exist_ok=True)
    (mine / "dlgrade_report.json").unlink(missing_ok=True)
    (mine / "dlgrade_report.json").write_text(wire.dumps(report.to_dict(), indent=1) + "\n")


def grade_outputs(report) -> dict:
    """{grade_id: cell outputs}: what the student may see of each item (`grader.student.notebook.item_text`),
    as the output of its grade cell, as if the cell had run `score(...)`."""
    from grader.student.notebook import item_text
    out = {}
    for item in copy.deepcopy(report.items):
        out[grade_id(item.id)] = [
            {"name": "stdout", "output_type": "stream", "text": item_text(item) + "\n"},
            {"data": {"text/plain": repr(float(item.score))}, "execution_count": None, "metadata": {},
             "output_type": "execute_result"}]
    return out


def feedback_notebook(notebook, report) -> str:
    """The feedback notebook: the cells of the submitted notebook (`feedback_cells`, or a path read
    as the trusted path reads it) with every output cleared and each grade cell showing the trusted
    result of its item; a report's error (the submission was not graded) as its first cell. A
    notebook that cannot be read gives a notebook that says why, never the file's content."""
    error = report.error
    if isinstance(notebook, (str, Path)):
        try:
            notebook = feedback_cells(_read_notebook(Path(notebook)))
        except engine.GradeError as exc:
            notebook, error = [], error or str(exc)
    cells = copy.deepcopy(notebook)
    outputs = grade_outputs(report)
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        nbg = cell["metadata"].get("nbgrader", {})
        gid = nbg.get("grade_id") if nbg.get("grade") else None
        if gid in outputs:
            cell["outputs"] = outputs.pop(gid)
    if error:
        cells.insert(0, {"cell_type": "markdown", "id": "dlgrade-not-graded", "metadata": {},
                         "source": f"**Not graded**: {html.escape(error, quote=False)}"})
    nb = {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
          "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                       "language_info": {"name": "python"}}}
    return wire.dumps(nb, indent=1) + "\n"
