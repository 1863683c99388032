"""Feedback names the bug: the message of a planted bug's item says what is wrong, in the words
a student needs, and never blames the wrong code."""
import importlib.util
from pathlib import Path

import pytest

from grader import api

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
]


@pytest.mark.parametrize("assignment, bug, item, words", CASES, ids=[f"{a}/{b}" for a, b, _, _ in CASES])
def test_feedback_names_the_bug(assignment, bug, item, words, tmp_path):
    planted = next(b for b in harness.load("bugs", assignment) if b.name == bug)
    result = api.grade(assignment, harness.build(planted, tmp_path / "s", assignment), only=[item]).items[0]
    assert result.score < result.max_score
    assert words in result.output, result.output
    assert "times 1 " not in result.output and "internal grader error" not in result.output
