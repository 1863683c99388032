"""nbgrader, both ways: the real `nbgrader generate_assignment` / `autograde` on a generated course,
and the trusted `dlgrade nbgrader autograde`, which never runs the notebooks."""
import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.nbgrader import extract_modules, grade_id, notebook_modules, source_notebook
from grader.release import keep_solutions
from tests.conftest import ROOT, dlgrade

nbgrader = pytest.importorskip("nbgrader")


def _same_code(a, b):
    norm = lambda text: ast.dump(ast.parse(text.replace("NotImplementedError()", "NotImplementedError")))  # noqa: E731
    return norm(a) == norm(b)


def _write(tmp_path, nb):
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(nb))
    return path


def test_notebook_cells_carry_nbgrader_v3_metadata():
    nb = source_notebook("mlp", ROOT)
    metas = [c["metadata"]["nbgrader"] for c in nb["cells"]]
    assert all(m["schema_version"] == 3 for m in metas)
    ids = [m["grade_id"] for m in metas]
    assert len(set(ids)) == len(ids)
    from grader import api
    tests = {m["grade_id"]: m for m in metas if m["grade"]}
    assert set(tests) == {grade_id(i.id) for i in api.items("mlp")}
    for item in api.items("mlp"):
        cell = next(c for c in nb["cells"] if c["metadata"]["nbgrader"]["grade_id"] == grade_id(item.id))
        assert tests[grade_id(item.id)]["points"] == item.points and tests[grade_id(item.id)]["locked"]
        assert ("### BEGIN HIDDEN TESTS" in cell["source"]) == (item.visibility == "hidden")
    solutions = [c for c in nb["cells"] if c["metadata"]["nbgrader"]["solution"]]
    assert solutions and all("### BEGIN SOLUTION" in c["source"] for c in solutions)


@pytest.mark.parametrize("assignment", ["linear", "mlp", "cnn", "rnn"])
def test_notebook_modules_are_the_solutions(assignment, tmp_path):
    """One source of truth: the notebook's %%writefile cells rebuild the solution modules."""
    nb = _write(tmp_path, source_notebook(assignment, ROOT))
    modules = notebook_modules(assignment, ROOT)
    files = extract_modules(nb, modules)
    assert sorted(files) == sorted(modules)
    for name, code in files.items():
        assert _same_code(code.replace("### BEGIN SOLUTION", "# BEGIN SOLUTION").replace("### END SOLUTION", "# END SOLUTION"),
                          keep_solutions((ROOT / f"solutions/{assignment}/{name}").read_text())), name


def test_extraction_follows_writefile_and_ignores_everything_else(tmp_path):
    cells = [{"cell_type": "code", "source": src, "metadata": {}} for src in (
        "%%writefile layers.py\nx = 1", "import grader.api; grader.api.grade_item = None",
        "%%writefile -a layers.py\ny = 2\n", "%%writefile ../../gradebook.db\nboom", "%%writefile other.py\nz = 3",
        ["%%writefile -a layers.py\n", "w = 4"])]
    files = extract_modules(_write(tmp_path, {"cells": cells}), {"layers.py"})
    assert files == {"layers.py": "x = 1\ny = 2\nw = 4\n"}


def _env():
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # nbgrader runs `alembic`
    return env


def _nbgrader(course, *args):
    r = subprocess.run([str(Path(sys.executable).parent / "nbgrader"), *args], cwd=course, env=_env(),
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def _scores(course, students):
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course}/gradebook.db") as gb:
        out = {}
        for s in students:
            sub = gb.find_submission("mlp", s)
            out[s] = (sub.score, {g.name: g.score for nb in sub.notebooks for g in nb.grades})
        return out


CHEATS = [
    # monkeypatch the checker in the kernel: every test cell then reports full points
    "import grader.api as _a\n"
    "_a.grade_item = lambda item, sub, opts: _a.ItemResult(item.id, item.points, item.points, 'passed', "
    "item.visibility, '')",
    # write to the gradebook
    "import sqlite3\n"
    "_db = sqlite3.connect('../../../gradebook.db')\n"
    "_db.execute('update grade set manual_score = 1000'); _db.commit()",
]


@pytest.mark.slow
def test_nbgrader_both_ways(tmp_path, needs_data):
    course = tmp_path / "course"
    r = dlgrade("release", "mlp", "--nbgrader", course)
    assert r.returncode == 0, r.stderr
    assert (course / "nbgrader_config.py").is_file() and (course / "source/mlp/mlp.ipynb").is_file()
    _nbgrader(course, "generate_assignment", "mlp")
    release = course / "release/mlp/mlp.ipynb"
    assert "BEGIN SOLUTION" not in release.read_text() and "BEGIN HIDDEN TESTS" not in release.read_text()

    for student, notebook in (("alice", course / "source/mlp/mlp.ipynb"), ("bob", release)):
        (course / "submitted" / student / "mlp").mkdir(parents=True)
        shutil.copyfile(notebook, course / "submitted" / student / "mlp/mlp.ipynb")
    shutil.copyfile(ROOT / "solutions/mlp/mlp_weights.npz", course / "submitted/alice/mlp/mlp_weights.npz")
    _nbgrader(course, "autograde", "mlp")
    plain = _scores(course, ["alice", "bob"])
    assert plain["alice"][0] == 100 and plain["bob"][0] == 0
    _nbgrader(course, "export")
    assert "alice,,,,100.0" in (course / "grades.csv").read_text()

    # mallory: the release notebook plus cells that attack the checker and the gradebook
    nb = json.loads(release.read_text())
    setup = next(k for k, c in enumerate(nb["cells"]) if "grader.notebook" in "".join(c["source"]))
    for k, code in enumerate(CHEATS):
        nb["cells"].insert(setup + 1 + k, {"cell_type": "code", "execution_count": None, "id": f"cheat{k}",
                                           "metadata": {}, "outputs": [], "source": code})
    (course / "submitted/mallory/mlp").mkdir(parents=True)
    (course / "submitted/mallory/mlp/mlp.ipynb").write_text(json.dumps(nb))
    before = (course / "gradebook.db").read_bytes()

    r = dlgrade("nbgrader", "autograde", course, "mlp", env=_env())
    assert r.returncode == 0, r.stdout + r.stderr
    assert "alice: 100 / 100" in r.stdout and "mallory: 0 / 100" in r.stdout
    trusted = _scores(course, ["alice", "bob", "mallory"])
    assert trusted["alice"] == plain["alice"] and trusted["bob"] == plain["bob"]  # the same scores, per cell
    assert trusted["mallory"][0] == 0
    assert before != (course / "gradebook.db").read_bytes()  # written by dlgrade, through nbgrader's API
    _nbgrader(course, "export")
    rows = {line.split(",")[3]: line.split(",")[-2] for line in (course / "grades.csv").read_text().splitlines()[1:]}
    assert rows == {"alice": "100.0", "bob": "0.0", "mallory": "0.0"}
