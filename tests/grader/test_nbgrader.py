"""nbgrader, both ways: the real `nbgrader generate_assignment` / `autograde` on a generated course,
and the trusted `dlgrade nbgrader autograde`, which never runs the notebooks."""
import ast
import html
import json
import re
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.release.nbgrader import feedback_notebook, grade_id, source_notebook
from grader.release.nbgrader.intake import extract_modules
from grader.release.stubs import notebook_modules
from grader.student.manifest import keep_solutions
from tests.conftest import ROOT, dlgrade

nbgrader = pytest.importorskip("nbgrader")


def _same_code(a, b):
    """The same top-level statements, in any order (a lesson places definitions in teaching order),
    the module docstring aside (a lesson says it in prose)."""
    def norm(text):
        body = ast.parse(text.replace("NotImplementedError()", "NotImplementedError")).body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]
        return sorted(ast.dump(node) for node in body)
    return norm(a) == norm(b)


def _write(tmp_path, nb):
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(nb))
    return path


def test_notebook_cells_carry_nbgrader_v3_metadata():
    nb = source_notebook("mlp", ROOT)
    metas = [c["metadata"]["nbgrader"] for c in nb["cells"] if "nbgrader" in c["metadata"]]  # not the lesson's prose
    assert all(m["schema_version"] == 3 for m in metas)
    ids = [m["grade_id"] for m in metas]
    assert len(set(ids)) == len(ids)
    from grader import engine
    tests = {m["grade_id"]: m for m in metas if m["grade"] and not m["solution"]}  # not the answer cells
    assert set(tests) == {grade_id(i.id) for i in engine.items("mlp")}
    for item in engine.items("mlp"):
        cell = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id(item.id))
        assert tests[grade_id(item.id)]["points"] == item.points and tests[grade_id(item.id)]["locked"]
        assert cell["source"].endswith(f"score({item.id!r})")
        assert cell["source"].startswith("# hidden") == (item.visibility == "hidden")
    solutions = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("solution") and c["cell_type"] == "code"]
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


def test_generating_the_release_changes_no_locked_cell():
    """nbgrader checks a locked cell against the checksum it stored before generate_assignment
    stripped the cell (hidden tests): a locked cell that generating changes is reported as
    tampered in every honest submission (jupyter/nbgrader#1961)."""
    import nbformat
    from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions
    from nbgrader.utils import compute_checksum, is_locked
    nb = nbformat.from_dict(source_notebook("mlp", ROOT))
    before = {c.id: compute_checksum(c) for c in nb.cells if is_locked(c)}
    assert len(before) > 40
    resources = {"language": "python"}
    for step in (ClearSolutions(), ClearHiddenTests()):
        nb, resources = step.preprocess(nb, resources)
    assert {c.id: compute_checksum(c) for c in nb.cells if is_locked(c)} == before


def _report(tmp_path):
    from grader import engine
    from grader.items.checks import CheckResult
    items = [engine.ItemResult("mlp.linear.backward", 1.0, 3.0, "partial", "public", "✗ dW: got 7.5, expected 2.5",
                            [CheckResult("dW", False, "got 7.5, expected 2.5")]),
             engine.ItemResult("mlp.dropout.eval", 0.0, 2.0, "failed", "hidden", "✗ identity at eval: got 3.25, expected 1.5",
                            [CheckResult("identity at eval", False, "got 3.25, expected 1.5")])]
    return engine.Report("mlp", "bob", items)


def test_feedback_notebook_shows_each_items_result_under_its_cell(tmp_path):
    nb = source_notebook("mlp", ROOT)
    for cell in nb["cells"]:  # whatever the student's copy said is not kept
        if cell["cell_type"] == "code":
            cell["outputs"] = [{"name": "stdout", "output_type": "stream", "text": "100 / 100 points"}]
    out = json.loads(feedback_notebook(_write(tmp_path, nb), _report(tmp_path)))
    shown = {c["id"]: "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in c.get("outputs", []))
             for c in out["cells"]}
    assert "100 / 100" not in "".join(shown.values())
    assert shown["mlp-linear-backward"].startswith("mlp.linear.backward: partial, 1 / 3 points\n")
    assert "got 7.5, expected 2.5" in shown["mlp-linear-backward"]
    assert "mlp.dropout.eval: failed, 0 / 2 points" in shown["mlp-dropout-eval"]
    assert "identity at eval: failed" in shown["mlp-dropout-eval"] and "3.25" not in shown["mlp-dropout-eval"]
    assert not shown["mlp-linear-forward"]  # not in the report: nothing


def test_a_later_assignment_ships_the_earlier_stubs_not_the_answer_key(tmp_path):
    """rnn builds on the student's own mlp files: its nbgrader folder has mlp's stubs (never the
    answer key), plain autograde keeps the student's copies (never given code, which it restores),
    and the notebook does not ask for them."""
    from grader.student.manifest import earlier_files, earlier_header, released_text
    r = dlgrade("release", "rnn", "--nbgrader", tmp_path)
    assert r.returncode == 0, r.stderr
    earlier = earlier_files("rnn", ROOT)
    assert "layers.py" in earlier
    for name in earlier:
        assert (tmp_path / "source/rnn" / name).read_text() == released_text("rnn", ROOT, name)
    assert "raise NotImplementedError" in (tmp_path / "source/rnn/layers.py").read_text()
    assert not set(earlier) & set(notebook_modules("rnn", ROOT))
    intro = json.loads((tmp_path / "source/rnn/rnn.ipynb").read_text())["cells"][0]["source"]
    assert "your own `mlp` work: copy your" in intro and "`layers.py`" in intro
    config = {}
    exec((tmp_path / "nbgrader_config.py").read_text(), {"get_config": lambda: config.setdefault("c", _Config())})
    own = [n for n, (a, f) in earlier.items() if released_text("rnn", ROOT, n).startswith(earlier_header(a, f))]
    assert "layers.py" in own and "backend.py" not in own  # given code (backend.py) comes from source/, unchanged
    assert sorted(config["c"].Autograde.exclude_overwriting["rnn"]) == sorted(own)


class _Config(dict):
    def __getattr__(self, name):
        return self.setdefault(name, _Config())

    def __setattr__(self, name, value):
        self[name] = value


def test_extraction_follows_writefile_and_ignores_everything_else(tmp_path):
    cells = [{"cell_type": "code", "source": src, "metadata": {}} for src in (
        "%%writefile layers.py\nx = 1", "import grader.engine; grader.engine.grade_item = None",
        "%%writefile -a layers.py\ny = 2\n", "%%writefile ../../gradebook.db\nboom", "%%writefile other.py\nz = 3",
        ["%%writefile -a layers.py\n", "w = 4"])]
    files = extract_modules(_write(tmp_path, {"cells": cells}), {"layers.py"})
    assert files == {"layers.py": "x = 1\ny = 2\nw = 4\n"}


SECRET = "nbgrader-test-course-secret-0123456789"  # both paths draw the hidden cases with it
BUGS = ROOT / "tests/submissions/mlp/bugs"


def _env():
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # nbgrader runs `alembic`
    env["DLGRADE_SECRET"] = SECRET
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


def _forget_scores(course, students):
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course}/gradebook.db") as gb:
        for s in students:
            for nb in gb.find_submission("mlp", s).notebooks:
                for grade in nb.grades:
                    grade.auto_score = None
        gb.db.commit()


def _by_student(log: str) -> dict:
    """nbgrader autograde's log cut into each student's part."""
    parts = re.split(r"Creating/updating student with ID '([^']+)'", log)
    return dict(zip(parts[1::2], parts[2::2]))


def _answered(source: dict, release: dict) -> dict:
    """What an honest student hands in: the release notebook with every solution cell filled in."""
    answers = {c["id"]: c["source"] for c in source["cells"]}
    nb = json.loads(json.dumps(release))
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("solution"):
            cell["source"] = answers[cell["id"]]
    return nb


def _insert_after_definition(nb, k, source):
    """A bug patching a class (`Linear.backward = ...`), right after the cell that writes that class
    (the lesson's notebook checks each class right after it)."""
    module = re.search(r"^# file: (\S+)", source, re.M).group(1)
    name = re.search(r"^(\w+)\.\w+ = ", source, re.M).group(1)
    at = 1 + next(n for n, c in enumerate(nb["cells"]) if c["id"] == f"{module.removesuffix('.py')}-{name}")
    nb["cells"].insert(at, {"cell_type": "code", "execution_count": None, "id": f"extra{k}", "metadata": {},
                            "outputs": [], "source": source})


def _cell(nb, gid):
    return next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == gid)


def _text(outputs) -> str:
    join = lambda x: "".join(x) if isinstance(x, list) else x  # noqa: E731
    return "".join(join(o.get("text", "")) + join(o.get("data", {}).get("text/plain", "")) for o in outputs)


CHEATS = [
    # monkeypatch the checker in the kernel: every test cell then reports full points
    "import grader.engine as _a\n"
    "_a.grade_item = lambda item, sub, opts: _a.ItemResult(item.id, item.points, item.points, 'passed', "
    "item.visibility, '')",
    # write to the gradebook
    "import sqlite3\n"
    "_db = sqlite3.connect('../../../gradebook.db')\n"
    "_db.execute('update grade set manual_score = 1000'); _db.commit()",
]
TAMPERED = "mlp-relu-forward"  # a locked test cell bob rewrites


@pytest.mark.slow
def test_nbgrader_both_ways(tmp_path, needs_data):
    """The whole cycle with nbgrader's own CLI. alice hands in the answer key; bob a transposed dW in
    Linear.backward, Adam without weight decay (a hidden item) and an edited locked test cell.
    Plain `nbgrader autograde`: no checksum warning for alice, one for bob's edited cell. Then bob
    adds cells that attack the checker and the gradebook; the trusted path gives both the same
    scores per cell as the plain path did, and `nbgrader generate_feedback` shows bob why."""
    course = tmp_path / "course"
    r = dlgrade("release", "mlp", "--nbgrader", course)
    assert r.returncode == 0, r.stderr
    assert (course / "nbgrader_config.py").is_file() and (course / "source/mlp/mlp.ipynb").is_file()
    _nbgrader(course, "generate_assignment", "mlp")
    release = course / "release/mlp"
    text = (release / "mlp.ipynb").read_text()
    assert "BEGIN SOLUTION" not in text
    wheels = [p.name for p in release.glob("dlgrade_student-*-py3-none-any.whl")]
    assert len(wheels) == 1 and f"%pip install {wheels[0]}" in text  # the wheel the setup cell imports, and how

    source = json.loads((course / "source/mlp/mlp.ipynb").read_text())
    alice = _answered(source, json.loads(text))
    bob = _answered(source, json.loads(text))
    for k, bug in enumerate(("linear_dW_transposed.py", "adam_ignores_weight_decay.py")):
        module = re.search(r"^# file: (\S+)", (BUGS / bug).read_text(), re.M).group(1)
        _insert_after_definition(bob, k, f"%%writefile -a {module}\n\n" + (BUGS / bug).read_text())
    _cell(bob, TAMPERED)["source"] = "1.0  # full marks"
    for student, nb in (("alice", alice), ("bob", bob)):
        (course / "submitted" / student / "mlp").mkdir(parents=True)
        (course / "submitted" / student / "mlp/mlp.ipynb").write_text(json.dumps(nb))
    shutil.copyfile(ROOT / "solutions/mlp/mlp_weights.npz", course / "submitted/alice/mlp/mlp_weights.npz")  # bob trains none

    r = _nbgrader(course, "autograde", "mlp")
    log = _by_student(r.stdout + r.stderr)
    assert "checksum" not in log["alice"], log["alice"]
    assert re.findall(r"Attribute 'checksum' for cell (\S+) has changed", log["bob"]) == [TAMPERED]
    plain = _scores(course, ["alice", "bob"])
    lost = {k for k, v in plain["bob"][1].items() if v < plain["alice"][1][k]}
    assert plain["alice"][0] == 100 and lost == {"mlp-linear-backward", "mlp-xor", "mlp-optim-adam-weight_decay", "mlp-train-accuracy"}
    assert plain["bob"][1][TAMPERED] == plain["alice"][1][TAMPERED]  # graded with the restored cell
    graded = json.loads((course / "autograded/bob/mlp/mlp.ipynb").read_text())
    hidden = _text(_cell(graded, "mlp-optim-adam-weight_decay")["outputs"])
    assert "failed" in hidden and "expected" not in hidden  # a hidden item's output: which checks passed

    # the trusted path, on bob's notebook with cells attacking the checker and the gradebook added
    setup = next(k for k, c in enumerate(bob["cells"]) if c["id"] == "setup")
    for k, code in enumerate(CHEATS):
        bob["cells"].insert(setup + 1 + k, {"cell_type": "code", "execution_count": None, "id": f"cheat{k}",
                                            "metadata": {}, "outputs": [], "source": code})
    (course / "submitted/bob/mlp/mlp.ipynb").write_text(json.dumps(bob))
    _forget_scores(course, ["alice", "bob"])
    r = dlgrade("nbgrader", "autograde", course, "mlp", env=_env())
    assert r.returncode == 0, r.stdout + r.stderr
    assert "alice: 100 / 100" in r.stdout
    assert _scores(course, ["alice", "bob"]) == plain  # written again, the same per cell; the cheats gained nothing
    _nbgrader(course, "export")
    rows = {line.split(",")[3]: line.split(",")[-2] for line in (course / "grades.csv").read_text().splitlines()[1:]}
    assert rows.keys() == {"alice", "bob"} and float(rows["alice"]) == 100
    assert float(rows["bob"]) == pytest.approx(plain["bob"][0])

    _nbgrader(course, "generate_feedback", "mlp")
    page = html.unescape((course / "feedback/bob/mlp/mlp.html").read_text())
    assert "mlp.linear.backward: partial" in page and "looks transposed" in page  # what went wrong, under the cell
    report = json.loads((course / "dlgrade_reports/bob/mlp/dlgrade_report.json").read_text())
    adam = next(i for i in report["items"] if i["id"] == "mlp.optim.adam.weight_decay")
    details = [line.split(": ", 1)[1] for line in adam["output"].splitlines() if ": " in line]
    assert details and "mlp.optim.adam.weight_decay: failed" in page
    assert not [d for d in details if d in page]  # the instructor's report has them; the student's page not
