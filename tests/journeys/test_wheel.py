"""The wheel as an instructor installs it: its files, `dlgrade list`, and full marks for every
answer key, graded by the installed command from a folder outside the repository."""
import json
import re
import tarfile
import zipfile

import pytest

from .conftest import ASSIGNMENTS, REPO, needs_data

# The answer key's student files never ship; grading.py (the item registry) and mutants.py
# (known bugs, for the grader's own checks) do.
SHIPPED = {"grading.py", "mutants.py", "drivers.py"}  # the grading files: registry, known bugs, worker drivers


@pytest.fixture(scope="module")
def wheel_names(artifacts):
    return set(zipfile.ZipFile(artifacts["wheel"]).namelist())


def test_assignments_found():
    assert {"linear", "mlp", "cnn", "autoencoder", "rnn"} <= set(ASSIGNMENTS)


def test_wheel_has_the_engine_and_the_course(artifacts, wheel_names):
    for name in ["grader/__init__.py", "grader/cli/instructor.py", "grader/assignments/__init__.py", "reference/__init__.py",
                 "dlgrade_course/solutions/datasets.py", "dlgrade_course/solutions/autoencoder/drivers.py",
                 *(f"dlgrade_course/solutions/{a}/grading.py" for a in ASSIGNMENTS)]:
        assert name in wheel_names, f"{name} is not in the wheel"
    [entry] = [n for n in wheel_names if n.endswith(".dist-info/entry_points.txt")]
    assert "dlgrade = grader.cli:main" in zipfile.ZipFile(artifacts["wheel"]).read(entry).decode()


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_wheel_has_no_answer_key(assignment, wheel_names, artifacts):
    """Only the released stubs (dlgrade_course/assignments/, byte for byte what students get) may
    share a name with an answer key's file."""
    keys = sorted(p.name for p in (REPO / "solutions" / assignment).iterdir() if p.name not in SHIPPED)
    wheel = zipfile.ZipFile(artifacts["wheel"])
    stub = f"dlgrade_course/assignments/{assignment}/"
    leaked = [k for k in keys for n in wheel_names if n.endswith(f"/{assignment}/{k}")
              and not (n == stub + k and wheel.read(n) == (REPO / "assignments" / assignment / k).read_bytes())]
    assert keys and not leaked, f"the wheel ships {assignment}'s answer key: {leaked}"
    assert not [n for n in wheel_names if n.endswith(".npz")], "the wheel ships trained weights"


def test_sdist_builds_the_wheel(artifacts):
    """The wheel was built from the sdist: the sdist holds the registries it needs."""
    names = tarfile.open(artifacts["sdist"]).getnames()
    for a in ASSIGNMENTS:
        assert any(n.endswith(f"/solutions/{a}/grading.py") for n in names), a


def test_installed_not_editable(run, wheel_venv):
    """The venv's grader is the installed copy, never the repository."""
    out = run(wheel_venv / "bin" / "python", "-c", "import grader, reference; print(grader.__file__); "
              "print(reference.__file__)").stdout.split()
    assert out and all(p.startswith(str(wheel_venv)) for p in out), out
    assert not any(str(REPO) in p for p in out)


def test_list_shows_every_assignment(run, dlgrade):
    out = run(dlgrade, "list").stdout
    listed = re.findall(r"^(\w+): \d+ items, [\d.]+ points", out, re.MULTILINE)
    assert sorted(listed) == ASSIGNMENTS, out


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_list_one_assignment(assignment, run, dlgrade):
    out = run(dlgrade, "list", assignment).stdout
    assert re.search(rf"^{assignment}: \d+ items, 100 points", out, re.MULTILINE), out


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_answer_key_full_marks(assignment, run, dlgrade):
    """`dlgrade grade A <repo>/solutions/A --format json`: 100, every item passed (trained items
    included: this is the one journey that grades the answer key's trained weights)."""
    needs_data()
    proc = run(dlgrade, "grade", assignment, REPO / "solutions" / assignment, "--format", "json")
    report = json.loads(proc.stdout)
    lost = [f"{i['id']}: {i['score']}/{i['max_score']} {i['status']}\n  {i['output'][:400]}"
            for i in report["items"] if i["status"] != "passed"]
    assert not lost, f"{assignment}: the answer key loses points:\n" + "\n".join(lost)
    assert report["score"] == pytest.approx(report["max_score"]) and report["max_score"] == pytest.approx(100)
