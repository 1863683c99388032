"""The `linear` assignment end to end: feedback that names known bugs, the accuracy
items' template figures and architecture check, and the student kit."""
import importlib.util
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from grader import engine
from grader.items import TrustedItem
from grader import course
from grader.reports.figures import of as figures_of
from tests.conftest import ROOT, dlgrade
from tests.grader.test_kit import _archive_texts, _solution_lines

_spec = importlib.util.spec_from_file_location(
    "submissions_harness", Path(__file__).resolve().parents[1] / "submissions" / "harness.py")
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

HINTS = [  # (planted bug, item, words the feedback must contain)
    ("svm_loops_counts_correct_class", "linear.svm.loops", "likely bug: the correct class is counted in the sum"),
    ("svm_margin_zero_counts", "linear.svm.ties", "likely bug: a margin of exactly 0 counts nothing"),
    ("softmax_loss_no_max_subtraction", "linear.softmax.stable", "likely bug: exp overflows for scores in the thousands"),
    ("svm_reg_gradient_no_factor_two", "linear.svm.vectorized", "likely bug: the regularisation gradient is 2 * reg * W"),
    ("mse_no_sigmoid_derivative", "linear.logistic.mse_loss", "likely bug: the chain rule goes through the sigmoid"),
    ("log_loss_sigmoid_derivative", "linear.logistic.log_loss", "the sigmoid's derivative cancels"),
    ("predict_last_max", "linear.predict", "likely bug: ties go to the lowest class index"),
    ("train_sgd_without_replacement", "linear.train_sgd", "likely bug: draw each batch with rng.integers"),
    ("softmax_reg_no_factor_two", "linear.train_sgd", "train_sgd calls your softmax_loss"),
    ("sigmoid_writes_into_z", "linear.logistic.sigmoid", "input['z'] was modified in place"),
]


@pytest.mark.parametrize("bug, item, words", HINTS, ids=[b for b, _, _ in HINTS])
def test_feedback_names_the_bug(bug, item, words, tmp_path):
    planted = next(b for b in harness.load("bugs", "linear") if b.name == bug)
    result = engine.grade("linear", harness.build(planted, tmp_path / "s", "linear"), only=[item]).items[0]
    assert result.score < result.max_score
    assert words in result.output, result.output
    assert "internal grader error" not in result.output


def test_items_points_and_visibility():
    items = engine.items("linear")
    assert course.discover()[0] == "linear" and sum(i.points for i in items) == 100
    assert {i.id for i in items if i.visibility == "hidden"} == {
        "linear.logistic.log_loss.stable", "linear.svm.ties", "linear.softmax.stable"}
    assert course.data("linear") == ("cifar10",)


def test_items_grade_quickly():
    """The 13 items graded from cases (not the trained weights) stay cheap for CI."""
    import time
    ids = [i.id for i in engine.items("linear") if not isinstance(i, TrustedItem)]
    start = time.perf_counter()
    report = engine.grade("linear", ROOT / "solutions/linear", only=ids)
    assert report.score == sum(i.max_score for i in report.items)
    assert time.perf_counter() - start < 2.0 * len(ids)


@pytest.fixture
def weights_only(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    return sub


def _grade_accuracy(sub, item="linear.softmax.accuracy"):
    return engine.grade("linear", sub, only=[item]).items[0]


def test_accuracy_item_draws_the_templates_of_the_submitted_weights(weights_only, tmp_path, needs_data):
    shutil.copy(ROOT / "solutions/linear/softmax_weights.npz", weights_only / "softmax_weights.npz")
    result = _grade_accuracy(weights_only)
    assert result.status == "passed" and "test accuracy 40.92%" in result.output, result.output
    (item_id, figure), = figures_of([result])
    assert item_id == "linear.softmax.accuracy" and figure.name == "softmax_templates.png"
    png = figure.save(tmp_path / figure.name).read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20000


def test_grade_and_check_write_the_figures(tmp_path, needs_data):
    out = tmp_path / "out"
    result = dlgrade("grade", "linear", "solutions/linear", "--item", "linear.svm.accuracy", "-o", out)
    assert result.returncode == 0, result.stderr
    assert (out / "linear" / "svm_templates.png").read_bytes().startswith(b"\x89PNG")
    assert "svm_templates.png: the learned weights of svm_weights.npz" in (out / "linear" / "feedback.txt").read_text()
    student = tmp_path / "linear"
    shutil.copytree(ROOT / "assignments/linear", student)
    for name in ("linear.py", "softmax_weights.npz"):
        shutil.copy(ROOT / "solutions/linear" / name, student)
    result = dlgrade("check", "linear", student, "--item", "linear.softmax.accuracy")
    assert result.returncode == 0 and "12 / 12" in result.stdout, result.stdout + result.stderr
    assert (student / "feedback" / "softmax_templates.png").is_file()


def _weights(path, arch, W, b):
    np.savez(path, arch=np.array(json.dumps(arch)), **{"1.W": W, "1.b": b})


@pytest.mark.parametrize("arch, shapes, words", [
    ([{"type": "Flatten"}, {"type": "Linear", "in_features": 3072, "out_features": 100},
      {"type": "ReLU"}, {"type": "Linear", "in_features": 100, "out_features": 10}], ((3072, 100), (100,)),
     "layer 2 is a ReLU, which this assignment's model may not use"),
    ([{"type": "Flatten"}, {"type": "Linear", "in_features": 3073, "out_features": 10}], ((3073, 10), (10,)),
     "the model must be exactly"),
    ([{"type": "Flatten"}, {"type": "Linear", "in_features": 3072, "out_features": 10}], ((3073, 10), (10,)),
     "expected arrays 1.W (3072, 10) and 1.b (10,), got 1.W (3073, 10), 1.b (10,)"),
], ids=["an MLP", "the bias row inside W", "W of the wrong shape"])
def test_accuracy_item_accepts_only_a_linear_classifier(weights_only, arch, shapes, words, needs_data):
    _weights(weights_only / "softmax_weights.npz", arch, *(np.zeros(s, np.float32) for s in shapes))
    result = _grade_accuracy(weights_only)
    assert result.score == 0 and words in result.output, result.output


def test_kit_builds_with_data_instructions(tmp_path):
    result = dlgrade("release", "linear", "--kit", tmp_path)
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(tmp_path / "linear-kit.zip") as zf:
        names = set(zf.namelist())
        readme, contract = zf.read("linear/README.md").decode(), zf.read("linear/CONTRACT.md").decode()
    assert {"linear/linear.py", "linear/logistic.py", "linear/train.py", "linear/public_cases.npz"} <= names
    assert not any(n.endswith(("mutants.py", "grading.py", "_weights.npz")) for n in names)
    texts = _archive_texts(tmp_path / "linear-kit.zip")
    for name in ("linear.py", "logistic.py"):
        secret, given = _solution_lines(ROOT / "solutions/linear" / name)
        leaked = [line for line in secret if line not in given and any(line in text for text in texts.values())]
        assert not leaked, f"answers of {name} in the kit: {leaked}"
    assert "dlgrade data fetch cifar10" in readme and "`linear.py`" in readme and "`logistic.py`" in readme
    assert contract.startswith("# The `linear` assignment") and "# Student contracts (the `mlp`" not in contract
