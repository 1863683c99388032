"""A course registry (`solutions/<a>/grading.py`) imports public names from `grader.items` only:
no other `grader` module, no private name, nothing from another assignment's registry. Checked on
the parsed source (ast), so a registry is checked without being run."""
import ast
from pathlib import Path

import pytest

import grader.items

ROOT = Path(__file__).resolve().parents[2]
REGISTRIES = sorted(ROOT.glob("solutions/*/grading.py"))


def violations(source: str) -> list:
    """What a registry's source imports that it may not."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [f"import {a.name}" for a in node.names
                    if a.name.split(".")[0] in ("grader", "solutions") or a.name.startswith("grader.assignments")]
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            names = [a.name for a in node.names]
            if node.level or module.split(".")[0] == "solutions":
                out.append(f"from {module} import {', '.join(names)} (another registry or course module)")
            elif module.split(".")[0] == "grader":
                if module != "grader.items":
                    out.append(f"from {module} import {', '.join(names)} (only grader.items is the registry's API)")
                out += [f"from {module} import {n} (private)" for n in names if n.startswith("_")]
                out += [f"from {module} import {n} (not public: not in grader.items.__all__)" for n in names
                        if module == "grader.items" and not n.startswith("_") and n not in grader.items.__all__]
    return out


def test_every_registry_is_found():
    assert {p.parent.name for p in REGISTRIES} >= {"linear", "mlp", "cnn", "autoencoder", "rnn"}


@pytest.mark.parametrize("path", REGISTRIES, ids=[p.parent.name for p in REGISTRIES])
def test_a_registry_imports_only_public_names_of_grader_items(path):
    assert violations(path.read_text()) == []


@pytest.mark.parametrize("source", [
    "from grader.sandbox.runner import Call",
    "from grader.items.core import pair",
    "from grader.items import _private",
    "from grader.items import not_exported_anywhere",
    "from grader.assignments.cnn import CNN_LAYERS",
    "import grader.engine",
    "from solutions.mlp.grading import MLP_LAYERS",
    "def f():\n    from grader.items.models import WeightsError",
])
def test_the_check_refuses_what_a_registry_may_not_import(source):
    assert violations(source)


def test_every_public_name_exists():
    missing = [n for n in grader.items.__all__ if not hasattr(grader.items, n)]
    assert missing == []
