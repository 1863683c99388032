"""The authoring path: an assignment is discovered from `solutions/<a>/grading.py`, with no edit
to `grader/` (docs/authoring.md). A toy course in a temporary folder goes through list,
release, grade and check with the real CLI."""
import json
import textwrap

import pytest

from grader import engine
from grader import course
from tests.conftest import ROOT, dlgrade

REGISTRY = '''
    """The `toy` assignment: one loss, added as files only."""
    import numpy as np

    from grader.items import LossItem, Mutant, randn

    ORDER = 1

    def regression(rng, n, c, dtype):
        s = randn(rng, (n, c), dtype)
        return s, (s + 0.5 + rng.random((n, c))).astype(dtype)

    ITEMS = [LossItem("toy.loss.mse", 10, name="MSELoss", make=regression,
                      mutants=(Mutant("divide by N (the batch), not by N * C", {"MSELoss": "solutions/toy/mutants.py:MeanOverAll"}),))]
'''
SOLUTION = '''
    import numpy as np


    class MSELoss:
        def forward(self, scores, target):
            # BEGIN SOLUTION
            d = scores - target
            return (d * d).sum() / len(d), d
            # END SOLUTION

        def backward(self, cache):
            # BEGIN SOLUTION
            return 2 * cache / len(cache)
            # END SOLUTION
'''
MUTANTS = '''
    import numpy as np

    from reference.losses import MSELoss


    class MeanOverAll(MSELoss):
        def forward(self, scores, target):
            d = scores - target
            return np.mean(d * d), d

        def backward(self, cache):
            return 2 * cache / cache.size
'''


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    folder = root / "solutions" / "toy"
    folder.mkdir(parents=True)
    for name, text in (("grading.py", REGISTRY), ("losses.py", SOLUTION), ("mutants.py", MUTANTS)):
        (folder / name).write_text(textwrap.dedent(text).lstrip())
    return root


def test_repository_assignments_are_discovered_in_course_order():
    names = engine.assignments()
    assert {"linear", "mlp", "cnn", "rnn"} <= set(names)
    assert [n for n in names if n in ("linear", "mlp", "cnn", "rnn")] == ["linear", "mlp", "cnn", "rnn"]
    assert all(course.source(n) == f"solutions/{n}/grading.py" for n in names)


def test_list_shows_every_discovered_assignment():
    result = dlgrade("list")
    headers = [line.split(":")[0] for line in result.stdout.splitlines() if not line.startswith(" ")]
    assert result.returncode == 0 and headers == list(engine.assignments())


def test_a_course_folder_defines_its_own_assignments(toy):
    result = dlgrade("--course", toy, "list")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2] == ["toy: 1 items, 10 points  [solutions/toy/grading.py]",
                                               "  The `toy` assignment: one loss, added as files only."]


def test_release_writes_stubs_without_the_instructor_files(toy):
    result = dlgrade("--course", toy, "release", "toy")
    assert result.returncode == 0, result.stderr
    released = sorted(p.name for p in (toy / "assignments" / "toy").iterdir())
    assert released == ["losses.py", "public_cases.json", "public_cases.npz"]
    assert "raise NotImplementedError" in (toy / "assignments/toy/losses.py").read_text()
    assert dlgrade("--course", toy, "release", "--check").returncode == 0


def test_answer_key_full_marks_stub_zero_and_the_bug_named(toy, tmp_path):
    def grade(path):
        result = dlgrade("--course", toy, "grade", "toy", path, "--format", "json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    dlgrade("--course", toy, "release", "toy")
    assert grade(toy / "solutions/toy")["score"] == 10
    stub = grade(toy / "assignments/toy")
    assert stub["score"] == 0 and stub["items"][0]["status"] == "not_attempted"
    bug = textwrap.dedent(MUTANTS).replace("from reference.losses import MSELoss\n", "")
    (tmp_path / "losses.py").write_text(bug.replace("class MeanOverAll(MSELoss)", "class MSELoss"))
    buggy = grade(tmp_path)
    assert buggy["score"] == 0 and "divide by N (the batch), not by N * C" in buggy["items"][0]["output"]


def test_check_runs_the_public_cases_of_a_course_assignment(toy, tmp_path):
    import shutil
    dlgrade("--course", toy, "release", "toy")
    student = tmp_path / "toy"
    shutil.copytree(toy / "assignments/toy", student)
    result = dlgrade("--course", toy, "check", "toy", student)
    assert result.returncode == 0 and "0 / 10" in result.stdout, result.stderr + result.stdout
    shutil.copy(toy / "solutions/toy/losses.py", student)
    result = dlgrade("--course", toy, "check", "toy", student)
    assert result.returncode == 0 and "10 / 10" in result.stdout, result.stderr + result.stdout


@pytest.mark.parametrize("args, message", [
    (("--course", "/nonexistent", "list"), "does not exist"),
    (("list", "nope"), "'nope' is not an assignment of this course (one of: linear, mlp"),
])
def test_bad_course_or_assignment_is_one_line_exit_2(args, message):
    result = dlgrade(*args)
    assert result.returncode == 2 and message in result.stderr and len(result.stderr.splitlines()) == 1


def test_a_folder_without_solutions_is_not_a_course(tmp_path):
    result = dlgrade("--course", tmp_path, "list")
    assert result.returncode == 2 and "not a course folder" in result.stderr
