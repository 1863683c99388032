"""Build planted-bug and adversarial submissions from the answer key.

A submission file (``tests/submissions/<assignment>/{bugs,adversarial}/<name>.py``) is a short
Python snippet with a header::

    \"\"\"One-line description of the bug.\"\"\"
    # file: layers.py                    (the solution module the snippet is appended to)
    # affects: mlp.linear.backward       (comma-separated item ids that must lose points)
    # status: timeout                    (optional: the status of every affected item)

`build` copies every ``*.py`` of ``solutions/<assignment>`` into a folder and appends the snippet
to the named file, so the snippet can use that module's imports, classes and helpers (typically
it replaces a method: ``Linear.backward = _backward``).

`dependent_items` names the items whose worker can import the modified file: a worker imports
only the module its item exercises (and what that module imports), so the other items run
byte-for-byte the answer key's code and score what the answer key scores. The tests grade each
submission on its dependent items only, which keeps them fast; set ``DLGRADE_TEST_ALL_ITEMS=1``
to grade every item of every submission instead.
"""
import ast
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
ALL_ITEMS_ENV = "DLGRADE_TEST_ALL_ITEMS"

# The module each item's worker imports, by item id prefix (LayerItem.module is "layers";
# Dropout, BatchNorm1d and Sequential are layers too).
ITEM_MODULES = (("mlp.loss.", "losses"), ("mlp.optim.", "optim"), ("mlp.init.", "init"), ("mlp.", "layers"))


@dataclass(frozen=True)
class Planted:
    name: str
    path: Path
    doc: str
    file: str
    affects: tuple
    status: str
    text: str


def _header(text, key):
    m = re.search(rf"^# {key}:(.*)$", text, re.MULTILINE)
    return m.group(1).strip() if m else ""


def load(kind, assignment="mlp"):
    """Every submission snippet of `kind` ("bugs" or "adversarial"), sorted by name."""
    out = []
    for path in sorted((HERE / assignment / kind).glob("*.py")):
        text = path.read_text()
        doc = ast.get_docstring(ast.parse(text)) or ""
        affects = tuple(a.strip() for a in _header(text, "affects").split(",") if a.strip())
        out.append(Planted(path.stem, path, doc, _header(text, "file"), affects, _header(text, "status"), text))
    return out


def solution_dir(assignment="mlp"):
    return ROOT / "solutions" / assignment


def copy_solution(dest, assignment="mlp"):
    """The answer key's .py files in `dest` (a fresh folder)."""
    dest = Path(dest)
    dest.mkdir(parents=True)
    for src in sorted(solution_dir(assignment).glob("*.py")):
        shutil.copyfile(src, dest / src.name)
    return dest


def build(planted, dest, assignment="mlp"):
    """The answer key with `planted`'s snippet appended to its target file."""
    dest = copy_solution(dest, assignment)
    target = dest / planted.file
    if not planted.file or not target.is_file():
        raise ValueError(f"{planted.path}: '# file: {planted.file}' is not a module of solutions/{assignment}")
    with open(target, "a") as f:
        f.write("\n\n# ---- planted: " + planted.name + "\n" + planted.text)
    return dest


def _imports(assignment="mlp"):
    """{module: set of sibling modules it imports, transitively, itself included}."""
    folder = solution_dir(assignment)
    names = {p.stem for p in folder.glob("*.py")}
    direct = {}
    for p in folder.glob("*.py"):
        found = set()
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                if node.module:
                    found.add(node.module.split(".")[0])
                if node.level:  # from . import init
                    found |= {a.name for a in node.names}
        direct[p.stem] = found & names
    closure = {}
    for name in direct:
        seen, todo = set(), [name]
        while todo:
            m = todo.pop()
            if m not in seen:
                seen.add(m)
                todo.extend(direct.get(m, ()))
        closure[name] = seen
    return closure


def item_module(item_id):
    return next(module for prefix, module in ITEM_MODULES if item_id.startswith(prefix))


def dependent_items(item_ids, files, assignment="mlp"):
    """The items (in `item_ids` order) whose worker imports any of `files` ("layers.py", ...)."""
    if os.environ.get(ALL_ITEMS_ENV):
        return list(item_ids)
    closure = _imports(assignment)
    stems = {Path(f).stem for f in files}
    return [i for i in item_ids if closure.get(item_module(i), {item_module(i)}) & stems]
