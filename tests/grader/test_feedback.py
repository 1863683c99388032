"""Feedback names the bug: the message of a planted bug's item says what is wrong, in the words
a student needs, and never blames the wrong code."""
import importlib.util
import re
from pathlib import Path

import pytest

from grader import engine

_spec = importlib.util.spec_from_file_location(
    "submissions_harness", Path(__file__).resolve().parents[1] / "submissions" / "harness.py")
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

CASES = [  # (assignment, planted bug, item, words the feedback must contain)
    ("mlp", "dropout_mask_shared_across_rows", "mlp.dropout.train", "every row has the same mask"),
    ("mlp", "relu_backward_positive_at_zero", "mlp.relu.backward", "expected 0 (abs. error"),
    ("mlp", "linear_forward_ignores_bias", "mlp.linear.backward", "your forward does not depend on b"),
    ("mlp", "linear_dW_transposed", "mlp.linear.backward", "expected (5, 3) (looks transposed)"),
    ("mlp", "adam_eps_hat", "mlp.optim.adam", "(where epsilon matters)"),
    ("mlp", "xavier_sorted_draw", "mlp.init.study", "your weights have the contract's std, yet the activations "
                                                    "drift from the reference's: the entries of W are not independent"),
    ("mlp", "xavier_wrong_bound", "mlp.init.study", "the scale of your weights is off: layer 1's W has std 0.018"),
    ("cnn", "maxpool_ties_last_max", "cnn.maxpool.backward", "likely bug: ties: the whole gradient of a window goes "
                                                            "to its FIRST maximum"),
    ("cnn", "maxpool_ties_all_maxima", "cnn.maxpool.backward", "not to every tied maximum"),
    ("cnn", "maxpool_default_stride_one", "cnn.maxpool.backward", "the grader feeds backward an upstream gradient "
                                                                 "of the contract's shape, so fix forward first"),
    ("rnn", "rnn_step_tanh_exp_ratio", "rnn.rnn.step.backward", "your forward pass returns non-finite values on "
                                                               "this case; fix forward first"),
    ("rnn", "lstm_forward_keeps_old_cell_state", "rnn.lstm.forward", 'state["c"] after the call'),
    ("rnn", "clip_skipped", "rnn.clip_grad_norm", "likely bug: clipping skipped"),
    ("rnn", "sample_top_k_drops_ties", "rnn.sample_next", "keep all tied tokens"),
    ("mlp", "batchnorm_eps_outside_sqrt", "mlp.batchnorm.train",
     "likely bug: eps goes inside the square root: (x - mean) / sqrt(var + eps)"),
    ("linear", "svm_gradient_missing_1_over_n_with_reg", "linear.svm.vectorized",
     "the term 0.2 * W (the regularisation gradient) is right, but the rest (the data term) is the expected one "
     "times 6 (a missing or extra constant factor such as 1/N)"),
]


@pytest.mark.parametrize("assignment, bug, item, words", CASES, ids=[f"{a}/{b}" for a, b, _, _ in CASES])
def test_feedback_names_the_bug(assignment, bug, item, words, tmp_path):
    planted = next(b for b in harness.load("bugs", assignment) if b.name == bug)
    result = engine.grade(assignment, harness.build(planted, tmp_path / "s", assignment), only=[item]).items[0]
    assert result.score < result.max_score
    assert words in result.output, result.output
    assert "times 1 " not in result.output and "internal grader error" not in result.output


FINITE = r"got -?[0-9]"  # the student's answer, a finite number (whatever the salt's cases make it)
MISLEADING = [  # (assignment, planted bug, item, what it must contain, a hint it showed before issue 19)
    ("linear", "softmax_loss_clips_probabilities", "linear.softmax.stable", FINITE,
     "exp overflows for scores in the thousands"),
    ("linear", "log_loss_clips_probabilities", "linear.logistic.log_loss.stable", FINITE,
     "log(sigmoid(z)) is -inf"),
]


@pytest.mark.parametrize("assignment, bug, item, words, wrong", MISLEADING, ids=[f"{a}/{b}" for a, b, *_ in MISLEADING])
def test_an_overflowing_known_bug_is_not_named_for_a_finite_answer(assignment, bug, item, words, wrong, tmp_path):
    """A known bug whose output is inf or NaN on a case does not "match" a finite wrong answer
    there: its hint (about an overflow the student's code does not have) is not shown."""
    planted = next(b for b in harness.load("bugs", assignment) if b.name == bug)
    result = engine.grade(assignment, harness.build(planted, tmp_path / "s", assignment), only=[item]).items[0]
    assert result.score < result.max_score
    assert re.search(words, result.output) and wrong not in result.output and "likely bug" not in result.output, \
        result.output


@pytest.mark.parametrize("bug, hinted", [("batchnorm_eps_outside_sqrt", True), ("batchnorm_ignores_eps", False)])
def test_a_matching_known_bug_is_named_however_small_the_error(bug, hinted, tmp_path):
    """eps outside the square root is off by about 5e-6 relatively (it reads like rounding): a
    known bug whose output the student's matches is named all the same; another bug is not."""
    hint = "eps goes inside the square root: (x - mean) / sqrt(var + eps)"  # solutions/mlp/mutants.py
    item = next(i for i in engine.items("mlp") if i.id == "mlp.batchnorm.train")
    planted = next(b for b in harness.load("bugs", "mlp") if b.name == bug)
    result = engine.grade_item(item, harness.build(planted, tmp_path / "s", "mlp"), engine.Options())
    assert result.score < result.max_score
    assert (f"likely bug: {hint}" in result.output) == hinted, result.output
    if hinted:
        assert "rel. error 3.5e-06" in result.output or "e-06)" in result.output, result.output


def test_init_study_figure_plots_every_network_and_grades_the_initialiser_alone(tmp_path):
    """The study grades `xavier_uniform` and runs none of the student's layers (issue 19, class 4):
    code whose Tanh.forward returns the wrong shape, or whose Linear loops over samples, keeps its
    full marks, and the figure is drawn with every reference curve."""
    import matplotlib.image

    from grader.reports import figures
    folder = harness.copy_solution(tmp_path / "s", "mlp")
    broken = harness.copy_solution(tmp_path / "b", "mlp")
    with open(broken / "layers.py", "a") as f:
        f.write("\n_tanh = Tanh.forward\nTanh.forward = lambda self, x, params, **kw: (_tanh(self, x, params)[0].T, None)\n"
                "Linear.forward = lambda self, x, params, **kw: (1 / 0, None)\n")
    bad_init = harness.copy_solution(tmp_path / "i", "mlp")
    with open(bad_init / "init.py", "a") as f:
        f.write("\n_xu = xavier_uniform\nxavier_uniform = lambda fan_in, fan_out, **kw: _xu(fan_in, fan_out, **kw)[:, :-1]\n")
    reports = engine.grade_many("mlp", [folder, broken, bad_init], only=["mlp.init.study"])
    assert [r.items[0].score for r in reports] == [2.0, 2.0, 0.0], reports[1].items[0].output
    assert "layer 1: your xavier_uniform(500, 500) returned shape (500, 499) and dtype float64, expected a float " \
           "array of shape (500, 500)" in reports[2].items[0].output, reports[2].items[0].output
    for k, report in enumerate(reports):
        [(item_id, figure)] = figures.of(report.items)
        assert item_id == figure.name[:-len(".png")] == "mlp.init.study"
        image = matplotlib.image.imread(figure.save(tmp_path / f"{k}.png"))
        assert image.shape[0] > 400 and image.shape[1] > 800


# --------------------------------------------------------------------------- issue 17, through the real command
def _dlgrade(*args):
    from tests.conftest import dlgrade
    return dlgrade(*args)


def test_hidden_gated_checks_are_not_graded_not_failed(tmp_path):
    """A hidden item whose values are wrong: its gated checks say `not graded ...`, as public ones do."""
    import json
    import shutil
    root = Path(__file__).resolve().parents[2]
    sub = tmp_path / "sub"
    shutil.copytree(root / "assignments/mlp", sub)
    (sub / "optim.py").write_text((root / "solutions/mlp/optim.py").read_text()
                                  + "\nOptimizer._grad = lambda self, p, g: g  # ignores weight decay\n")
    r = _dlgrade("grade", "mlp", sub, "--format", "gradescope", "--item", "mlp.optim.sgd.weight_decay")
    output = json.loads(r.stdout)["tests"][0]["output"]
    assert "float32 params stay float32: not graded until the values above match the reference" in output, output
    assert "float32 params stay float32: failed" not in output


def test_feedback_txt_shows_the_model_samples_and_check_its_figure(tmp_path, needs_data):
    """The trained names model: feedback.txt lists the names it wrote; `dlgrade check` shows the
    nats/char a passed trained model earned."""
    r = _dlgrade("grade", "rnn", "solutions/rnn", "--item", "rnn.names.nll", "-o", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "out/rnn/feedback.txt").read_text()
    samples = next(line for line in text.splitlines() if line.startswith("    samples: ")).split(": ", 1)[1]
    assert len(samples.split(", ")) == 8, text
    r = _dlgrade("check", "rnn", "solutions/rnn", "--item", "rnn.names.nll")
    assert r.returncode == 0 and "rnn.names.nll:" in r.stdout and "nats/char on" in r.stdout, r.stdout
