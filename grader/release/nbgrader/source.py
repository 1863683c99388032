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
from grader.release.lesson import load as load_lesson, notebook, question_text
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
LESSON_SETUP = "from grader.student.notebook import check, experiment\n%load_ext autoreload\n%autoreload 2"


def _intro(assignment: str, root: Path, wheel: str, modules: list, hidden: list, weights: list, lesson=None) -> str:
    datasets = course.data(assignment)
    how = (f"Run the cells in order. Each implementation cell (`%%writefile -a`) adds one function to a "
           f"module of this folder ({', '.join(f'`{m}`' for m in modules)}): fill in its "
           f"`raise NotImplementedError()`; the check cell right after it grades that item on the file in a "
           f"separate process (its last line is the points you earned). Answer each question in the cell "
           f"below it: your instructor grades the answers by hand." if lesson else
           f"Fill in every `raise NotImplementedError()` below, following `CONTRACT.md`. Run the cells in "
           f"order: each `%%writefile` cell writes part of a module ({', '.join(f'`{m}`' for m in modules)}) "
           f"into this folder, and each test cell grades one item on those files in a separate process "
           f"(its last line is the points you earned).")
    return (f"# The `{assignment}` assignment\n\n"
            f"**Install the student tool first** (once, in the environment of this notebook's kernel): "
            f"run this in a cell, then restart the kernel\n\n"
            f"```\n%pip install {wheel}\n```\n\n"
            f"(or `pip install {wheel}` in a terminal, in this folder). The wheel is in this folder."
            + (f" The items that read data need it on your machine: `!dlgrade data fetch "
               f"{' '.join(datasets)}` downloads and verifies it." if datasets else "")
            + "\n\n" + how
            + (f" {len(hidden)} hidden items ({sum(i.points for i in hidden):g} points) are graded by your "
               f"instructor; their cells say so." if hidden else "")
            + "".join(f"\n\nThis assignment builds on your own `{a}` work: copy your "
                      f"{', '.join(f'`{n}`' for n in names)} into this folder, over the stubs, and hand "
                      f"them in with this notebook." for a, names in _own_earlier(assignment, root).items())
            + (f"\n\nTrained weights: run `python train.py` in this folder; submit "
               f"{', '.join(f'`{i.weights}`' for i in weights)} with this notebook." if weights else ""))


def _score_cell(item) -> dict:
    source = f"score({item.id!r})"
    if item.visibility == "hidden":
        source = f"# hidden: graded by your instructor, with cases you do not see\n{source}"
    return _cell("code", source, _meta(grade_id(item.id), grade=True, locked=True, points=item.points))


def source_notebook(assignment: str, root: Path, wheel: str = None) -> dict:
    """The nbgrader source notebook of `assignment` (with solutions), as a JSON-ready dict;
    `wheel` is the file name of the student tool's wheel next to it. Made from the lesson,
    `solutions/<a>/lesson.md`, where there is one (`lesson_cells`); else from the modules alone."""
    items = engine.items(assignment)
    lesson = load_lesson(assignment, root)
    modules = notebook_modules(assignment, root)
    wheel = wheel or wheel_name()
    weights = [i for i in items if isinstance(i, TrustedItem) and i.weights]
    hidden = [i for i in items if i.visibility == "hidden"]
    cells = [_cell("markdown", _intro(assignment, root, wheel, modules, hidden, weights, lesson),
                   _meta("intro", locked=True))]
    cells.append(_cell("code", SETUP.format(wheel=wheel) + (f"\n{LESSON_SETUP}" if lesson else ""),
                       _meta("setup", locked=True)))
    cells += lesson_cells(lesson) if lesson else _module_cells(assignment, root, modules, items)
    for cell in cells:  # nbformat 4.5 cell ids: stable across releases
        cell["id"] = cell["metadata"].get("nbgrader", {}).get("grade_id") or cell.get("id")
    return notebook(cells, assignment, modules=modules, earlier=sorted(earlier_files(assignment, root)))


def _module_cells(assignment: str, root: Path, modules: list, items: list) -> list:
    """Without a lesson: every module as `%%writefile` cells, then one test cell per item."""
    cells = []
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
    return cells + [_score_cell(item) for item in items]


def lesson_cells(lesson) -> list:
    """The lesson's cells for nbgrader: prose and experiments as they are; each implementation a
    `%%writefile -a` solution cell holding only its definition (a module's imports and given code in
    locked cells just before its first one); each check the item's autograded `score` cell; each
    question locked, its answer a manually graded markdown cell (the model answer, which
    `nbgrader generate_assignment` replaces with "YOUR ANSWER HERE")."""
    items = {i.id: i for i in engine.items(lesson.assignment)}
    placed = {(c.module, c.name) for c in lesson.cells if c.kind in ("implement", "given")}
    started, cells, question = set(), [], None
    for k, c in enumerate(lesson.cells):
        if c.kind in ("implement", "given") and c.module not in started:
            started.add(c.module)
            stem = grade_id(c.module.removesuffix(".py"))
            cells.append(_cell("code", f"%%writefile {c.module}\n{lesson.headers[c.module]}",
                               _meta(f"{stem}-header", locked=True)))
            for (module, name), d in lesson.definitions.items():
                if module == c.module and (module, name) not in placed:
                    cells.append(_cell("code", f"%%writefile -a {module}\n\n\n{d.text}",
                                       _meta(f"{stem}-{name}", locked=True)))
        if c.kind in ("markdown", "code"):
            cells.append({**_cell(c.kind, c.source), "id": f"{c.kind}-{k}"})
        elif c.kind in ("implement", "given"):
            d = lesson.definitions[(c.module, c.name)]
            gid = f"{grade_id(c.module.removesuffix('.py'))}-{c.name}"
            text = f"%%writefile -a {c.module}\n\n\n" + (_nbgrader_markers(d.text) if d.solution else d.text)
            cells.append(_cell("code", text, _meta(gid, solution=True) if d.solution else _meta(gid, locked=True)))
        elif c.kind == "check":
            cells.append(_score_cell(items[c.name]))
        elif c.kind == "question":
            question = c
            cells.append(_cell("markdown", question_text(c, "*Answer in the cell below.*"),
                               _meta(f"{grade_id(c.name)}-question", locked=True)))
        elif c.kind == "answer":
            cells.append(_cell("markdown", c.source or "YOUR ANSWER HERE",
                               _meta(grade_id(question.name), grade=True, solution=True, points=question.points)))
    return cells


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
        # the earlier files the student copies in; given code (e.g. backend.py) comes from source/
        keep = {a: sorted(str(rel) for files in _own_earlier(a, root).values() for rel in files)
                for a in engine.assignments()}
        config.write_text(CONFIG.format(course_id=course_dir.name, root=str(course_dir),
                                        keep={a: f for a, f in keep.items() if f}))
    return nb
