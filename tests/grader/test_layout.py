"""The layout of `grader/` shows its architecture, and stays that way.

- every module imports on its own (in a fresh set of `grader` modules), in any order;
- `grader/`'s import graph (every import, at module level or inside a function) has no cycle;
- no file of `grader/` is longer than 450 lines;
- the instructor's wheel (pyproject.toml) names every package of `grader/`;
- items are told apart by their protocol (`ComparedItem`, `TrustedItem`), never by probing
  attributes with `getattr(item, ...)`.
"""
import ast
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "grader"
MAX_LINES = 450


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = sorted(module_name(p) for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def imports_of(path: Path) -> set:
    """The `grader` modules a file imports (absolute or relative, anywhere in the file).

    `from package import submodule` counts as an import of the submodule only: Python imports a
    package before its submodules whatever the importer, so that edge would be a cycle in every
    package whose `__init__` re-exports its modules."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            submodules = {f"{base}.{a.name}" for a in node.names} & set(MODULES)
            found |= submodules
            if len(submodules) < len(node.names):  # a name defined by `base` itself
                found.add(base)
    return {m for m in found if m in MODULES and m != name}


def graph() -> dict:
    return {module_name(p): imports_of(p) for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts}


def cycle(edges: dict):
    """One import cycle as a list of modules, or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle():
    assert cycle(graph()) is None, " -> ".join(cycle(graph()))


def test_the_cycle_finder_finds_one():
    edges = graph()
    some, other = "grader.results", "grader.cli"
    edges[some] = edges[some] | {other}  # cli imports (indirectly) results: now results imports cli
    assert cycle(edges) is not None


IMPORT_EACH = """
import importlib, sys, traceback
failed = []
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "grader" or m.startswith("grader.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception:
        failed.append(name + ": " + traceback.format_exc().strip().splitlines()[-1])
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def test_each_module_imports_on_its_own():
    """In one fresh interpreter (this process's modules stay untouched), each module is imported
    after every `grader` module was forgotten."""
    run = subprocess.run([sys.executable, "-c", IMPORT_EACH, *MODULES], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr


def test_no_file_over_450_lines():
    long = {str(p.relative_to(ROOT)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long


def test_items_are_told_apart_by_protocol_not_by_probing():
    probes = [f"{p.relative_to(ROOT)}:{k}" for p in PACKAGE.rglob("*.py")
              for k, line in enumerate(p.read_text().splitlines(), 1) if "getattr(item" in line]
    assert not probes


def test_the_installed_wheel_names_every_package():
    """pyproject.toml lists its packages by name: a new subpackage of `grader/` must be added there,
    or the wheel an instructor installs would lack it."""
    named = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    packages = {module_name(p) for p in PACKAGE.rglob("__init__.py")}
    assert packages - named == set()
