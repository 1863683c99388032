"""Lessons: `solutions/<a>/lesson.md`, written once by the course author, made into the kit's
companion notebook (`kit_notebook`) and, by `grader.release.nbgrader.source`, the nbgrader source
notebook.

A lesson is a MyST Markdown notebook as Jupytext reads it (docs/lessons.md): markdown cells
(prose, LaTeX math) and ```{code-cell} ipython3 blocks (experiments, figures). A few cells have a
role, given by their metadata or their source:

- `implement: <module>.py:<name>` (an empty code cell): the student implements `name`, a top-level
  function or class of the answer key's module. Its code is never written in the lesson: it comes
  from `solutions/<a>/<module>.py` (one source of truth). In the kit's notebook the cell says which
  file to edit and shows the stub; in nbgrader it is the `%%writefile -a` solution cell of that one
  definition.
- `given: <module>.py:<name>`: given code shown where the lesson reads it (in nbgrader a locked
  `%%writefile -a` cell). A module's other given definitions, and its imports, are written by
  locked cells just before its first definition in the notebook.
- a code cell of `check("<item id>")` lines: one check cell per item, which runs that item's public
  cases inline (`grader.student.notebook.check`); in nbgrader, the item's autograded cell. Each
  implementation is followed by at least one check cell before the next one (a base class may be
  followed directly by a class derived from it: its items check both); an item the lesson never
  checks gets a check cell at the end.
- a markdown cell with `+++ {"tags": ["question"], "question": "<a>.q.<name>", "points": P}`: an
  inline question, followed by a markdown cell tagged `answer` holding the model answer (for
  graders: never in the kit; in nbgrader, the manually graded answer cell). Kit students answer in
  `answers.md` (`grader.student.manifest.answers_template`). Never auto-scored.
"""
import ast
import re
from dataclasses import dataclass
from pathlib import Path

from grader import engine
from grader.release.stubs import notebook_modules
from grader.student.manifest import ANSWERS, LESSON, ReleaseError, questions, strip_solutions

CHECK = re.compile(r"""^check\(\s*(["'])([A-Za-z0-9_.\-]+)\1\s*\)\s*$""")
WHERE = re.compile(r"^([A-Za-z0-9_/]+\.py):([A-Za-z_][A-Za-z0-9_]*)$")
ROLES = ("implement", "given")
SETUP = "%load_ext autoreload\n%autoreload 2\nfrom grader.student.notebook import check, experiment"


@dataclass
class Cell:
    kind: str          # markdown, code, implement, given, check, question, answer
    source: str = ""
    module: str = ""   # implement, given: the module
    name: str = ""     # implement, given: the definition; check: the item id; question: its id
    points: float = 0  # question


@dataclass
class Definition:
    module: str
    name: str
    text: str          # as in the answer key, solution markers included
    solution: bool     # holds a solution region: the student writes it

    @property
    def stub(self) -> str:
        return strip_solutions(self.text, f"{self.module}:{self.name}")


@dataclass
class Lesson:
    assignment: str
    cells: list
    headers: dict      # {module: its code before the first definition, the module docstring left out}
    definitions: dict  # {(module, name): Definition}, in each module's order


def split_module(text: str, module: str = "<module>"):
    """(header, [Definition]): a module cut before every top-level function or class (with its
    decorators and the comments right above it); the header is what comes before the first one,
    its module docstring left out; statements between definitions stay with the one above."""
    lines = text.splitlines(keepends=True)
    body = ast.parse(text).body
    starts, names = [], []
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            start = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
            while start > 0 and lines[start - 1].lstrip().startswith("#") and "SOLUTION" not in lines[start - 1]:
                start -= 1
            starts.append(start)
            names.append(node.name)
    first = starts[0] if starts else len(lines)
    skip = 0
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        skip = body[0].end_lineno
    header = "".join(lines[skip:first]).strip("\n") + "\n"
    defs = []
    for k, (start, name) in enumerate(zip(starts, names)):
        end = starts[k + 1] if k + 1 < len(starts) else len(lines)
        piece = "".join(lines[start:end]).strip("\n") + "\n"
        defs.append(Definition(module, name, piece, "# BEGIN SOLUTION" in piece))
    return header, defs


def path(assignment: str, root: Path) -> Path:
    return Path(root) / "solutions" / assignment / LESSON


def _read_notebook(where: Path):
    try:
        import jupytext
    except ImportError:
        raise ReleaseError(f"{where}: reading a lesson needs Jupytext (pip install jupytext)") from None
    try:
        return jupytext.read(where, fmt="md:myst")
    except Exception as exc:  # noqa: BLE001  Jupytext's parse errors have no common base class
        raise ReleaseError(f"{where}: not a MyST notebook ({type(exc).__name__}: {exc})".splitlines()[0]) from None


def load(assignment: str, root: Path):
    """The lesson of `assignment`, checked (one-line ReleaseError naming the cell), or None when
    it has none."""
    where = path(assignment, root)
    if not where.is_file():
        return None
    rel = f"solutions/{assignment}/{LESSON}"
    headers, definitions = {}, {}
    for module in notebook_modules(assignment, root):
        headers[module], defs = split_module((Path(root) / "solutions" / assignment / module).read_text(), module)
        definitions.update({(module, d.name): d for d in defs})
    items = {i.id: i for i in engine.items(assignment)}
    cells, checked = [], []
    nb_cells = list(_read_notebook(where).cells)
    for k, nb_cell in enumerate(nb_cells, 1):
        meta, source = dict(nb_cell.metadata), nb_cell.source.strip("\n")
        at = f"{rel}: cell {k}"
        tags = meta.get("tags") or []
        roles = [r for r in ROLES if r in meta]
        if nb_cell.cell_type == "markdown" and "question" in tags:
            cells.append(Cell("question", source, name=str(meta.get("question")), points=meta.get("points", 1)))
            following = nb_cells[k] if k < len(nb_cells) else None
            if following is None or following.cell_type != "markdown" or "answer" not in (following.metadata.get("tags") or []):
                raise ReleaseError(f"{at}: question {meta.get('question')} must be followed by a markdown cell tagged answer "
                                   f"(the model answer)")
        elif nb_cell.cell_type == "markdown" and "answer" in tags:
            if not cells or cells[-1].kind != "question":
                raise ReleaseError(f"{at}: an answer cell must follow a question cell")
            if any(line.startswith("#") for line in source.splitlines()):  # MyST: it runs to the next `+++`
                raise ReleaseError(f"{at}: the answer to {cells[-1].name} runs on into the lesson (a heading): "
                                   f"end it with a `+++` line")
            cells.append(Cell("answer", source))
        elif nb_cell.cell_type == "code" and roles:
            m = WHERE.match(str(meta[roles[0]]))
            if len(roles) > 1 or not m or (m.group(1), m.group(2)) not in definitions:
                raise ReleaseError(f"{at}: {roles[0]}: {meta[roles[0]]!r} is not a definition of "
                                   f"{', '.join(headers) or 'a module students write'} (<module>.py:<name>)")
            if source.strip():
                raise ReleaseError(f"{at}: an {roles[0]} cell is empty: its code comes from "
                                   f"solutions/{assignment}/{m.group(1)}")
            cells.append(Cell(roles[0], module=m.group(1), name=m.group(2)))
        elif nb_cell.cell_type == "code" and source and all(CHECK.match(line) for line in source.splitlines()):
            for line in source.splitlines():
                item = CHECK.match(line).group(2)
                if item not in items:
                    raise ReleaseError(f"{at}: check({item!r}): {assignment} has no such item")
                if item in checked:
                    raise ReleaseError(f"{at}: check({item!r}) again: each item is checked once")
                checked.append(item)
                cells.append(Cell("check", name=item))
        elif nb_cell.cell_type in ("markdown", "code"):
            cells.append(Cell(nb_cell.cell_type, source))
    lesson = Lesson(assignment, cells, headers, definitions)
    _validate(lesson, rel, questions(assignment, root))
    rest = [i for i in items if i not in checked]
    if rest:
        cells.append(Cell("markdown", "## Everything else that is graded\n\nThe items the lesson did not check "
                                      "on the way: run each cell."))
        cells += [Cell("check", name=i) for i in rest]
    return lesson


def _bases(d: Definition) -> set:
    """The names of the classes `d` derives from (none for a function)."""
    node = ast.parse(d.text).body[0]
    return {b.id for b in getattr(node, "bases", []) if isinstance(b, ast.Name)}


def _validate(lesson: Lesson, rel: str, asked: list):
    implemented = [(c.module, c.name) for c in lesson.cells if c.kind == "implement"]
    placed = implemented + [(c.module, c.name) for c in lesson.cells if c.kind == "given"]
    for key in {k for k in placed if placed.count(k) > 1}:
        raise ReleaseError(f"{rel}: {key[0]}:{key[1]} is placed twice")
    for key, d in lesson.definitions.items():
        if d.solution and key not in implemented:
            raise ReleaseError(f"{rel}: {key[0]}:{key[1]} has a solution region but no implement cell")
    for key in implemented:
        if not lesson.definitions[key].solution:
            raise ReleaseError(f"{rel}: {key[0]}:{key[1]} is given code (no solution region): use given, not implement")
    pending = None
    for cell in lesson.cells + [Cell("implement", name="")]:
        if cell.kind == "implement":
            d = lesson.definitions.get((cell.module, cell.name))
            if pending and not (d and pending.partition(":")[2] in _bases(d)):  # a base is checked with its subclass
                raise ReleaseError(f"{rel}: no check cell between {pending} and the next implementation")
            pending = f"{cell.module}:{cell.name}" if cell.name else None
        elif cell.kind == "check":
            pending = None
    mine = [(c.name, c.points, c.source) for c in lesson.cells if c.kind == "question"]
    if [(q, p) for q, p, _ in mine] != [(q, p) for q, p, _ in asked]:
        raise ReleaseError(f"{rel}: the question cells read by Jupytext {[q for q, _, _ in mine]} differ from the "
                           f"`+++` lines {[q for q, _, _ in asked]}: write each question's metadata on its `+++` line")


def _cell(kind: str, source: str, cid: str, metadata=None) -> dict:
    cell = {"cell_type": kind, "id": cid, "metadata": metadata or {}, "source": source}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def notebook(cells: list, assignment: str, **meta) -> dict:
    return {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                         "language_info": {"name": "python"}, "dlgrade": {"assignment": assignment, **meta}}}


def question_text(cell: Cell, where: str) -> str:
    points = "1 point" if cell.points == 1 else f"{cell.points:g} points"
    return f"**Question `{cell.name}`** ({points}, graded by hand)\n\n{cell.source}\n\n{where}"


def kit_notebook(lesson: Lesson) -> dict:
    """The kit's companion notebook: the lesson with each implementation as a pointer to the `.py`
    file (and its stub), each check as `check(...)`, each question pointing at answers.md."""
    a = lesson.assignment
    modules = sorted({c.module for c in lesson.cells if c.kind == "implement"})
    intro = (f"**How to work.** You implement in the `.py` files of this folder "
             f"({', '.join(f'`{m}`' for m in modules)}); this notebook explains each step, imports your code, "
             f"checks it as soon as it is written (the same public cases as `dlgrade check`) and draws the "
             f"figures with it. Run the cells from the top; after editing a file, run its check cell again "
             f"(the notebook reloads your modules). Answer the questions in `{ANSWERS}`; `dlgrade submit` "
             f"hands in your files and your answers.")
    cells = [_cell("markdown", intro, "how-to-work"), _cell("code", SETUP, "setup")]
    for k, c in enumerate(lesson.cells):
        cid = f"{c.kind}-{k}"
        if c.kind in ("markdown", "code"):
            cells.append(_cell(c.kind, c.source, cid))
        elif c.kind == "implement":
            d = lesson.definitions[(c.module, c.name)]
            cells.append(_cell("markdown", f"**Your turn: implement `{c.name}` in `{c.module}`.** "
                                           f"The stub there:\n\n```python\n{d.stub.rstrip()}\n```", cid))
        elif c.kind == "given":
            d = lesson.definitions[(c.module, c.name)]
            cells.append(_cell("markdown", f"Given in `{c.module}` (read it; nothing to change):\n\n"
                                           f"```python\n{d.text.rstrip()}\n```", cid))
        elif c.kind == "check":
            cells.append(_cell("code", f"check({c.name!r})", cid))
        elif c.kind == "question":
            cells.append(_cell("markdown", question_text(c, f"*Answer in `{ANSWERS}`, under `## {c.name}`.*"), cid))
    return notebook(cells, a)
