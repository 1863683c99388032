"""nbgrader, both ways: source notebooks generated from `solutions/`, and the trusted autograder.

`release(assignment, root, course)` writes `course/source/<a>/<a>.ipynb` and the files it needs,
the student tool's wheel included (`nbgrader generate_assignment` copies them all to
`release/<a>/`; the notebook's first cell says how to install the wheel).
The notebook is made from the same marked regions as the `.py` stubs (one source of truth): every
module with solution regions becomes `%%writefile` cells, one per top-level class or function
(the first `%%writefile NAME`, the others `%%writefile -a NAME`), so running the notebook writes
the modules into its folder. Cells holding a region are nbgrader solution cells (regions between
`### BEGIN SOLUTION` / `### END SOLUTION`); the others are read-only. Then one locked, autograded
test cell per item (`grade_id` from the item id, its points) calls `grader.notebook.score`.
Hidden items' cells hold the same call, with no `### BEGIN HIDDEN TESTS` region: nbgrader stores
a locked cell's checksum before it strips such a region, so `nbgrader autograde` would report
every untampered hidden cell as changed (jupyter/nbgrader#1961); the call hides nothing anyway
(in a student's environment it only says the item is graded by the instructor). Cell metadata
follows nbgrader's schema v3.

`autograde(course, assignment)` is the trusted path: it reads each submitted notebook as JSON,
takes only the bodies of its `%%writefile` cells for the assignment's modules (the notebook is
never executed), grades them in sandboxed workers like `dlgrade grade`, writes the scores into
nbgrader's gradebook through nbgrader's API (`nbgrader export` and formgrader show them), and
writes `autograded/<student>/<a>/`: the submitted notebook with its outputs cleared and, as the
output of each grade cell, what the student may see of that item (`nbgrader generate_feedback`
renders it).
"""
import ast
import copy
import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import api, wire
from .release import BEGIN, END, ReleaseError, earlier_files, released, released_text

NB_BEGIN, NB_END = "### BEGIN SOLUTION", "### END SOLUTION"
WRITEFILE = re.compile(r"^%%writefile(\s+(-a|--append))?\s+(\S+)\s*$")
MAX_NOTEBOOK_BYTES = 20 << 20

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
    from .release import earlier_header
    out = {}
    for rel, (earlier, name) in sorted(earlier_files(assignment, root).items()):
        if released_text(assignment, root, rel).startswith(earlier_header(earlier, name)):
            out.setdefault(earlier, []).append(rel)
    return out


SETUP = """\
try:
    from grader.notebook import score
except ImportError:
    raise ImportError("the student tool is not installed in this kernel: run  %pip install {wheel}") from None"""


def wheel_name() -> str:
    """The file name of the student tool's wheel, as `grader.kit.build_wheel` writes it."""
    from .kit import DIST, version
    return f"{DIST}-{version()}-py3-none-any.whl"


def source_notebook(assignment: str, root: Path, wheel: str = None) -> dict:
    """The nbgrader source notebook of `assignment` (with solutions), as a JSON-ready dict;
    `wheel` is the file name of the student tool's wheel next to it."""
    from .course import data
    items = api.items(assignment)
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
    from .kit import build_wheel, contract, manifest
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
    api.save_public_cases(assignment, target)
    (target / "CONTRACT.md").write_text(contract(assignment, root))
    wheel = build_wheel(root, target, manifest(root, default=assignment))  # what the setup cell imports
    nb = target / f"{assignment}.ipynb"
    nb.write_text(json.dumps(source_notebook(assignment, root, wheel.name), indent=1) + "\n")
    config = course / "nbgrader_config.py"
    if not config.exists():
        keep = {a: sorted(earlier_files(a, root)) for a in api.assignments()}
        config.write_text(CONFIG.format(course_id=course.name, root=str(course),
                                        keep={a: f for a, f in keep.items() if f}))
    return nb


# --------------------------------------------------------------------------- trusted autograde
def extract_modules(notebook: Path, modules) -> dict:
    """{module: code} from the `%%writefile` cells of a submitted notebook, read as JSON and
    never executed; only the named modules, as IPython would have written them."""
    path = Path(notebook)
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        raise api.GradeError(f"{path.name} is larger than {MAX_NOTEBOOK_BYTES >> 20} MB")
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = nb["cells"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise api.GradeError(f"{path.name} is not a notebook ({type(exc).__name__})") from None
    files = {}
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        if not isinstance(source, str):
            continue
        first, _, body = source.partition("\n")
        m = WRITEFILE.match(first)
        if not m or m.group(3) not in modules:
            continue
        if body and not body.endswith("\n"):
            body += "\n"
        files[m.group(3)] = (files.get(m.group(3), "") if m.group(1) else "") + body
    return files


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


def autograde(course: Path, assignment: str, *, jobs: int = 2, opts: api.Options = None, students=None) -> list:
    """Grade `course/submitted/*/<assignment>/` in workers; write the gradebook. Returns [Graded]."""
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.utils import parse_utc

    course = Path(course).resolve()
    coursedir = CourseDirectory(config=_course_config(course))
    source_dir = course / "source" / assignment
    source_nbs = sorted(source_dir.glob("*.ipynb"))
    if not source_nbs:
        raise api.GradeError(f"no source notebook in {source_dir}: run `dlgrade release {assignment} --nbgrader {course}`")
    modules, earlier = set(), set()
    for nb in source_nbs:  # trusted: the instructor's own notebook says which modules exist
        meta = json.loads(nb.read_text())["metadata"].get("dlgrade", {})
        modules |= set(meta.get("modules", []))
        earlier |= set(meta.get("earlier", []))
    submitted = course / "submitted"
    folders = sorted(p for p in submitted.glob(f"*/{assignment}") if p.is_dir()
                     and (students is None or p.parent.name in students))
    weights = [i.weights for i in api.items(assignment) if getattr(i, "weights", "")]
    results = []
    with tempfile.TemporaryDirectory(prefix="dlgrade-nbgrader-") as tmp:
        grading = []
        for k, folder in enumerate(folders):
            work = Path(tmp, str(k))
            work.mkdir()
            for given in source_dir.glob("*.py"):  # given code comes from the instructor, as in nbgrader
                shutil.copyfile(given, work / given.name)
            for name in earlier:  # the student's own files from an earlier assignment, when handed in
                own = folder / name
                if own.is_file() and not own.is_symlink() and own.stat().st_size <= MAX_NOTEBOOK_BYTES:
                    shutil.copyfile(own, work / name)
            notebooks = sorted(folder.glob("*.ipynb"))
            for nb in notebooks:
                for name, code in extract_modules(nb, modules).items():
                    (work / name).write_text(code)
            for w in weights:
                if (folder / w).is_file():
                    shutil.copyfile(folder / w, work / w)
            grading.append((folder.parent.name, work, notebooks))
        reports = api.grade_many(assignment, [w for _, w, _ in grading], opts=opts or api.Options(), jobs=jobs)
        for (student, _, notebooks), report in zip(grading, reports):
            report.submission = student
            results.append(Graded(student, report, [nb.stem for nb in notebooks]))

    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        try:
            gradebook_notebooks = [nb.name for nb in gb.find_assignment(assignment).notebooks]
        except MissingEntry:
            raise api.GradeError(f"{assignment} is not in the gradebook: run `nbgrader generate_assignment {assignment}` first")
        for g in results:
            gb.update_or_create_student(g.student)
            timestamp = _timestamp(submitted / g.student / assignment)
            try:
                submission = gb.find_submission(assignment, g.student)
                if timestamp:
                    submission.timestamp = parse_utc(timestamp)
            except MissingEntry:
                gb.add_submission(assignment, g.student, **({"timestamp": timestamp} if timestamp else {}))
            by_cell = {grade_id(i.id): i for i in g.report.items}
            for nb_name in gradebook_notebooks:
                for grade in gb.find_submission_notebook(nb_name, assignment, g.student).grades:
                    item = by_cell.get(grade.name)
                    if item is not None:
                        grade.auto_score = item.score
                        grade.needs_manual_grade = False
            gb.db.commit()
            out = course / "autograded" / g.student / assignment
            out.mkdir(parents=True, exist_ok=True)
            for nb in (submitted / g.student / assignment).glob("*.ipynb"):
                (out / nb.name).unlink(missing_ok=True)  # nbgrader leaves its copies read-only
                (out / nb.name).write_text(feedback_notebook(nb, g.report))  # formgrader and generate_feedback show it
            (out / "dlgrade_report.json").unlink(missing_ok=True)
            (out / "dlgrade_report.json").write_text(wire.dumps(g.report.to_dict(), indent=1) + "\n")
    return results


def grade_outputs(report) -> dict:
    """{grade_id: cell outputs}: what the student may see of each item (`grader.notebook.item_text`),
    as the output of its grade cell, as if the cell had run `score(...)`."""
    from .notebook import item_text
    out = {}
    for item in copy.deepcopy(report.items):
        out[grade_id(item.id)] = [
            {"name": "stdout", "output_type": "stream", "text": item_text(item) + "\n"},
            {"data": {"text/plain": repr(float(item.score))}, "execution_count": None, "metadata": {},
             "output_type": "execute_result"}]
    return out


def feedback_notebook(notebook: Path, report) -> str:
    """The submitted notebook, never executed: every output the student's copy held is cleared
    (it could say anything), and each grade cell gets the trusted result of its item. A notebook
    that cannot be read is copied as it is."""
    text = notebook.read_text(encoding="utf-8", errors="replace")
    try:
        nb = json.loads(text)
        cells = [c for c in nb["cells"] if isinstance(c, dict)]
    except (ValueError, KeyError, TypeError):
        return text
    outputs = grade_outputs(report)
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        cell["outputs"], cell["execution_count"] = [], None
        meta = cell.get("metadata")
        nbg = meta.get("nbgrader") if isinstance(meta, dict) else None
        gid = nbg.get("grade_id") if isinstance(nbg, dict) and nbg.get("grade") else None
        if isinstance(gid, str) and gid in outputs:
            cell["outputs"] = outputs.pop(gid)
    return wire.dumps(nb, indent=1) + "\n"


def _timestamp(folder: Path):
    path = folder / "timestamp.txt"
    return path.read_text().strip() if path.is_file() else None
