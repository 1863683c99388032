"""Gradescope: results.json with every field of the specification, the autograder zip's scripts
(what may differ from Gradescope's run: the root and the package manager only), `run_autograder`
run against a fake /autograder tree whose venv is this one, and the sandbox choice (bubblewrap, or
the uid sandbox only when asked for). The whole zip, set up and run as Gradescope runs it, is
tests/journeys/test_gradescope_journey.py."""
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, dlgrade

TOP = {"score": (int, float), "execution_time": (int, float), "output": str, "visibility": str,
       "stdout_visibility": str, "tests": list}
TEST = {"score": (int, float), "max_score": (int, float), "name": str, "number": str, "output": str,
        "tags": list, "visibility": str, "status": str}
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}


def validate(results):
    for key, kind in TOP.items():
        assert isinstance(results.get(key), kind), key
    assert results["visibility"] in VISIBILITIES and results["stdout_visibility"] in VISIBILITIES
    for t in results["tests"]:
        for key, kind in TEST.items():
            assert isinstance(t.get(key), kind), (t.get("name"), key)
        assert t["status"] in ("passed", "failed") and t["visibility"] in VISIBILITIES
        assert 0 <= t["score"] <= t["max_score"] and all(isinstance(tag, str) for tag in t["tags"])
    assert len({t["number"] for t in results["tests"]}) == len(results["tests"])


def assert_hidden_reveal_nothing(results):
    hidden = [t for t in results["tests"] if "hidden" in t["tags"]]
    assert hidden
    for t in hidden:
        assert t["visibility"] == "after_published"
        lines = t["output"].splitlines()
        assert lines[-1].startswith("(hidden item")
        for line in lines[:-1]:  # check names and a verdict, nothing else: no values, no messages
            assert re.fullmatch(r"[^:=\[]+: (passed|failed|not graded until the values above match the reference)"
                                r"|not_attempted|error|timeout", line), line
            assert not re.search(r"expected|got|index|shape|rel\. error|likely bug", line), line


@pytest.fixture(scope="module")
def answer_key_results(tmp_path_factory):
    r = dlgrade("grade", "mlp", "solutions/mlp", "--format", "gradescope")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_answer_key_results_json_has_every_field(answer_key_results, needs_data):
    validate(answer_key_results)
    assert answer_key_results["score"] == 100 and answer_key_results["execution_time"] > 0
    assert {t["status"] for t in answer_key_results["tests"]} == {"passed"}
    assert_hidden_reveal_nothing(answer_key_results)


def test_stub_results_json_has_every_field():
    r = dlgrade("grade", "mlp", "assignments/mlp", "--format", "gradescope")
    results = json.loads(r.stdout)
    validate(results)
    assert results["score"] == 0 and {t["status"] for t in results["tests"]} == {"failed"}
    assert_hidden_reveal_nothing(results)


def test_failing_hidden_item_reveals_no_values(tmp_path):
    sub = tmp_path / "sub"
    shutil.copytree(ROOT / "assignments/mlp", sub)
    (sub / "optim.py").write_text((ROOT / "solutions/mlp/optim.py").read_text()
                                  + "\nOptimizer._grad = lambda self, p, g: g  # ignores weight decay\n")
    r = dlgrade("grade", "mlp", sub, "--format", "gradescope", "--item", "mlp.optim")
    results = json.loads(r.stdout)
    validate(results)
    assert any(t["score"] < t["max_score"] for t in results["tests"] if "hidden" in t["tags"]), r.stdout
    assert_hidden_reveal_nothing(results)


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory):
    out = tmp_path_factory.mktemp("gs") / "mlp-autograder.zip"
    r = dlgrade("release", "mlp", "--gradescope", out)
    assert r.returncode == 0, r.stderr
    return out


def test_autograder_zip_layout(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as zf:
        names = set(zf.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
        salt = zf.read("salt.txt").decode().strip()
    assert {"setup.sh", "run_autograder", "salt.txt", "dlgrade/pyproject.toml", "dlgrade/grader/cli/__init__.py",
            "dlgrade/reference/layers.py"} <= names
    # from solutions/, only the grading files (registries, known bugs, the course's own drivers and
    # datasets): never an answer key or weights
    from_solutions = {n for n in names if n.startswith("dlgrade/solutions/")}
    assert {"dlgrade/solutions/mlp/grading.py", "dlgrade/solutions/autoencoder/drivers.py",
            "dlgrade/solutions/datasets.py"} <= from_solutions
    assert {n.rsplit("/", 1)[1] for n in from_solutions} <= {"grading.py", "mutants.py", "drivers.py", "datasets.py"}
    assert modes["run_autograder"] & stat.S_IXUSR and modes["setup.sh"] & stat.S_IXUSR
    assert len(salt) == 32 and salt != "grade"
    subprocess.run(["bash", "-n", "-c", zipfile.ZipFile(autograder_zip).read("setup.sh").decode()], check=True)


def _scripts(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as zf:
        return {name: zf.read(name).decode() for name in ("setup.sh", "run_autograder")}


def test_scripts_differ_from_gradescope_only_by_root_and_package_manager(autograder_zip):
    for name, text in _scripts(autograder_zip).items():
        code = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
        uses = [line for line in code if "/autograder" in line]
        assert uses == ['ROOT="${AUTOGRADER_ROOT:-/autograder}"'], (name, uses)
        assert [line for line in code if "apt-get" in line] == (['APT_GET="${APT_GET:-apt-get}"'] if name == "setup.sh" else [])
    setup = _scripts(autograder_zip)["setup.sh"]
    assert '"$ROOT/venv/bin/pip" install -q ./dlgrade' in setup  # not editable, from the zip's copy
    assert "data fetch cifar10" in setup and "cifar-10-python.tar.gz" in setup


def test_course_secret_never_on_a_command_line(autograder_zip):
    run = _scripts(autograder_zip)["run_autograder"]
    assert "--seed" not in run and "DLGRADE_SECRET=" not in run
    assert [line for line in run.splitlines() if "salt.txt" in line] == ['export DLGRADE_SECRET_FILE="$SOURCE/salt.txt"']


def _fake_autograder(tmp_path, autograder_zip, files):
    """run_autograder on a tree whose venv is this one (set up already: bubblewrap, dlgrade)."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(autograder_zip) as zf:
        zf.extractall(root / "source")
    for name in ("run_autograder", "setup.sh"):
        (root / "source" / name).chmod(0o755)
    (root / "venv").symlink_to(sys.prefix)
    (root / "submission").mkdir()
    for src, name in files:
        shutil.copyfile(src, root / "submission" / name)
    env = dict(os.environ, AUTOGRADER_ROOT=str(root))
    r = subprocess.run([str(root / "source/run_autograder")], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return json.loads((root / "results/results.json").read_text())


def test_run_autograder_always_writes_results(tmp_path, autograder_zip):
    (tmp_path / "not-a-zip.zip").write_text("garbage")
    results = _fake_autograder(tmp_path, autograder_zip, [(tmp_path / "not-a-zip.zip", "submission.zip")])
    assert results["score"] == 0 and "not a folder or a .zip" in results["output"]
    assert results["extra_data"]["sandbox"] in ("bubblewrap", "uid")


# --------------------------------------------------------------------------- the sandbox choice
def _no_namespaces(tmp_path):
    """PATH with a `bwrap` first that fails as bubblewrap does in a container without CAP_SYS_ADMIN."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "bwrap").write_text("#!/bin/sh\necho 'bwrap: Creating new namespace failed: Operation not permitted' >&2\n"
                                "exit 1\n")
    (fake / "bwrap").chmod(0o755)
    return f"{fake}:{os.environ['PATH']}"


def test_grade_never_falls_back_by_itself(tmp_path):
    env = dict(os.environ, PATH=_no_namespaces(tmp_path))
    env.pop("DLGRADE_SANDBOX", None)
    r = dlgrade("grade", "linear", "solutions/linear", env=env)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("error: bubblewrap cannot create a sandbox here: bwrap: Creating new namespace failed")
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("value, message", [
    ("uid", "uid sandbox"),  # here: the course files are readable by any user, or the interpreter is not
    ("docker", "DLGRADE_SANDBOX='docker' is not a sandbox (one of: bwrap, uid)"),
], ids=["uid-with-readable-course", "unknown"])
def test_sandbox_choice_refuses_what_is_unsafe(tmp_path, value, message):
    env = dict(os.environ, PATH=_no_namespaces(tmp_path), DLGRADE_SANDBOX=value)
    r = dlgrade("grade", "linear", "solutions/linear", env=env)
    assert r.returncode == 2 and r.stdout == "" and message in r.stderr, r.stderr
    assert r.stderr.startswith("error: ") and len(r.stderr.strip().splitlines()) == 1
