"""nbgrader source notebooks generated from `solutions/` (`dlgrade release A --nbgrader COURSE`).

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
"""
import ast
import json
import shutil
from pathlib import Path

from grader import course
from grader import engine
from grader.items import TrustedItem
from grader.release.contract import contract
from grader.release.stubs import notebook_modules
from grader.release.wheel import build_wheel, manifest, wheel_name
from grader.student.manifest import BEGIN, END, ReleaseError, earlier_files, earlier_header, released, released_text

NB_BEGIN, NB_END = "### BEGIN SOLUTION", "### END SOLUTION"


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


def source_notebook(assignment: str, root: Path, wheel: str = None) -> dict:
    """The nbgrader source notebook of `assignment` (with solutions), as a JSON-ready dict;
    `wheel` is the file name of the student tool's wheel next to it."""
    items = engine.items(assignment)
    modules = notebook_modules(assignment, root)
    wheel = wheel or wheel_name()
    weights = [i for i in items if isinstance(i, TrustedItem) and i.weights]
    datasets = course.data(assignment)
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


def release(assignment: str, root: Path, course_dir: Path) -> Path:
    """Write `course_dir/source/<a>/`: the notebook, the other released files (given code, train.py),
    CONTRACT.md and the public cases; and `course_dir/nbgrader_config.py` when there is none."""
    course_dir = Path(course_dir).resolve()
    target = course_dir / "source" / assignment
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
    config = course_dir / "nbgrader_config.py"
    if not config.exists():
        keep = {a: sorted(earlier_files(a, root)) for a in engine.assignments()}
        config.write_text(CONFIG.format(course_id=course_dir.name, root=str(course_dir),
                                        keep={a: f for a, f in keep.items() if f}))
    return nb
