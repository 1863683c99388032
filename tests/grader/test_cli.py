"""The real `dlgrade` command line: list, grade, check, formats and exit codes."""
import csv
import io
import json
import sys

import pytest

from tests.conftest import ROOT, dlgrade


@pytest.fixture(scope="module")
def solution_json():
    result = dlgrade("grade", "mlp", "solutions/mlp", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_list_has_every_curriculum_item():
    result = dlgrade("list", "mlp")
    ids = [line.split()[0] for line in result.stdout.splitlines()[1:]]
    assert result.returncode == 0 and len(ids) >= 35
    for part in ("linear", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "softmax", "log_softmax",
                 "dropout", "batchnorm", "init.xavier", "init.he", "sequential", "loss.mse", "loss.mae",
                 "loss.bce", "loss.cross_entropy", "loss.nll", "loss.hinge", "loss.kl", "optim.sgd",
                 "optim.momentum", "optim.nesterov", "optim.adagrad", "optim.rmsprop", "optim.adadelta",
                 "optim.adam", "optim.sgd.weight_decay", "train.accuracy"):
        assert any(f"mlp.{part}" in i for i in ids), part


def test_solution_scores_full_marks(solution_json, needs_data):
    assert solution_json["score"] == solution_json["max_score"] == 100
    assert {i["status"] for i in solution_json["items"]} == {"passed"}
    accuracy = next(i for i in solution_json["items"] if i["id"] == "mlp.train.accuracy")
    assert "test accuracy" in accuracy["output"]


def test_json_follows_the_contract(solution_json):
    assert set(solution_json) >= {"assignment", "submission", "score", "max_score", "items"}
    for item in solution_json["items"]:
        assert set(item) == {"id", "score", "max_score", "status", "visibility", "output"}
        assert item["visibility"] in ("public", "hidden")


@pytest.mark.parametrize("assignment", ["linear", "mlp", "cnn", "rnn"])
def test_fresh_assignment_scores_zero_not_attempted(assignment):
    result = dlgrade("grade", assignment, f"assignments/{assignment}", "--format", "json")
    data = json.loads(result.stdout)
    assert result.returncode == 0 and data["score"] == 0 and data["max_score"] == 100
    assert {i["status"] for i in data["items"]} == {"not_attempted"}


@pytest.mark.parametrize("assignment", ["linear", "cnn", "rnn"])
def test_later_answer_keys_score_full_marks(assignment, needs_data):
    """Speed items are timed: their full-credit rate is measured by benchmarks/speed_credit.py and
    banded in test_speed_items.py; here they must at least earn credit."""
    result = dlgrade("grade", assignment, f"solutions/{assignment}", "--format", "json")
    assert result.returncode == 0, result.stderr
    items = json.loads(result.stdout)["items"]
    timed = [i for i in items if ".speed." in i["id"]]
    assert all(i["score"] > 0 for i in timed), [i["output"] for i in timed]
    wrong = [f"{i['id']}: {i['status']}\n{i['output']}" for i in items if i not in timed and i["status"] != "passed"]
    assert not wrong, "\n".join(wrong)


def test_several_submissions_csv_and_missing_one(tmp_path):
    out = tmp_path / "grades.csv"
    result = dlgrade("grade", "mlp", "assignments/mlp", "no/such/folder", "--format", "csv",
                     "-o", out, "--item", "mlp.linear")
    assert result.returncode == 1
    assert "error: no/such/folder: no such file or folder" in result.stderr
    assert "Traceback" not in result.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["submission"] for r in rows] == ["assignments/mlp", "no/such/folder"]
    assert rows[0]["mlp.linear.forward"] == "0"


def test_gradescope_hides_hidden_details(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "optim.py").write_text((ROOT / "solutions/mlp/optim.py").read_text() + (
        "\nSGD.step = lambda self, params, grads, state: "
        "({k: p - self.lr * grads[k] for k, p in params.items()}, state)  # ignores weight decay\n"))
    result = dlgrade("grade", "mlp", sub, "--format", "gradescope", "--item", "mlp.optim.sgd",
                     "--item", "mlp.optim.sgd.weight_decay")
    data = json.loads(result.stdout)
    wd = next(t for t in data["tests"] if t["name"] == "mlp.optim.sgd.weight_decay")
    assert wd["score"] < wd["max_score"] and wd["visibility"] == "after_published"
    assert "expected" not in wd["output"] and "index" not in wd["output"]
    plain = next(t for t in data["tests"] if t["name"] == "mlp.optim.sgd")
    assert plain["score"] == plain["max_score"] and plain["visibility"] == "visible"


def test_syntax_error_is_one_line_and_costs_items(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "layers.py").write_text("def broken(:\n")
    result = dlgrade("grade", "mlp", sub, "--item", "mlp.linear", "--format", "json")
    assert "warning:" in result.stderr and "layers.py:1: SyntaxError" in result.stderr
    data = json.loads(result.stdout)
    assert all(i["status"] == "error" and "SyntaxError" in i["output"] for i in data["items"])
    assert result.returncode == 1 and "Traceback" not in result.stderr


def test_usage_errors_exit_2():
    assert dlgrade("grade", "nope", "x").returncode == 2
    assert dlgrade("grade", "mlp", "x", "--format", "pdf").returncode == 2


def test_check_never_imports_the_reference(tmp_path):
    """Students have no reference/: `dlgrade check` must work with it unimportable."""
    import subprocess
    code = ("import sys; sys.modules['reference'] = None; from grader.cli import main; "
            "main(['check', 'mlp', 'solutions/mlp', '--item', 'mlp.linear', '--item', 'mlp.loss'])")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "mlp.linear.backward" in result.stdout and "passed" in result.stdout


def test_check_on_stubs_says_not_attempted():
    result = dlgrade("check", "mlp", "--item", "mlp.relu")
    assert result.returncode == 0
    assert "not_attempted" in result.stdout and "hidden items" in result.stdout


def test_missing_data_is_one_line_error(tmp_path):
    import os
    env = {**os.environ, "DLGRADE_DATA": str(tmp_path / "empty"), "DLGRADE_CACHE": str(tmp_path / "cache")}
    (tmp_path / "empty").mkdir()
    result = dlgrade("grade", "rnn", "solutions/rnn", "--item", "rnn.names.nll", env=env)
    assert result.returncode == 1
    assert result.stderr.startswith("error: names:") and "Traceback" not in result.stderr


def test_feedback_files_for_each_submission(tmp_path):
    sub = tmp_path / "alice"
    sub.mkdir()
    (sub / "optim.py").write_text((ROOT / "solutions/mlp/optim.py").read_text() + (
        "\nSGD.step = lambda self, params, grads, state: "
        "({k: p - self.lr * grads[k] for k, p in params.items()}, state)  # ignores weight decay\n"))
    out = tmp_path / "feedback"
    result = dlgrade("grade", "mlp", sub, "assignments/mlp", "--item", "mlp.optim.sgd",
                     "--item", "mlp.optim.sgd.weight_decay", "--feedback", out, "--format", "csv")
    assert result.returncode == 0, result.stderr
    text = (out / "alice" / "feedback.txt").read_text()
    assert "mlp.optim.sgd.weight_decay" in text and "hidden item" in text and "expected" not in text
    for name in ("alice", "mlp"):
        png = (out / name / "scores.png").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 5000


def test_accuracy_item_refuses_another_assignments_model(tmp_path):
    """A CNN submitted for the MLP item is refused by name, with the allowed layer types."""
    import shutil
    sub = tmp_path / "sub"
    sub.mkdir()
    shutil.copy(ROOT / "solutions/cnn/cnn_weights.npz", sub / "mlp_weights.npz")
    result = dlgrade("grade", "mlp", sub, "--item", "mlp.train.accuracy", "--format", "json")
    item = json.loads(result.stdout)["items"][0]
    assert item["score"] == 0 and item["status"] == "failed", item
    assert "layer 0 is a Conv2d" in item["output"] and "allowed: Flatten, Linear" in item["output"], item
