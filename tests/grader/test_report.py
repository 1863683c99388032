"""Reporters (grader.reports.report, grader.reports.feedback, grader.reports.classview) on reports built by hand: every
value the engine produces is written as JSON, hidden items say which checks were not run, and
trained models show what they achieved and the samples they wrote."""
import json

import numpy as np
import pytest

from grader.reports import report as R
from grader.results import ItemResult, Report
from grader.items.checks import GATED_MESSAGE, CheckResult

NAMES = ("1.9067 nats/char on 7226 held-out characters (full credit at <= 2.05, none at >= 2.40); "
         "samples: maurei, dreon, athziry")
PLAY = "1.4547 nats/char on 111536 held-out characters (full credit at <= 1.60); samples: \n    ROMEO:\n    Be gone."


def numpy_report():
    """What the engine can hand a reporter: NumPy scalars of every kind and 0-d arrays."""
    checks = [CheckResult("variance", True, ""), CheckResult("distribution", False, "off", credit=0.5)]
    items = [ItemResult("mlp.init.he_normal", np.float32(1.5), np.int64(3), "partial", "public", "~ distribution",
                        checks),
             ItemResult("mlp.init.xavier", np.float64(0.0), np.array(2.0), "failed", "hidden", "✗ variance",
                        [CheckResult("variance", np.bool_(False), "")])]
    return Report("mlp", "alice", items)


@pytest.mark.parametrize("value", [np.bool_(True), np.int8(3), np.uint64(7), np.float16(0.5), np.float32(0.25),
                                   np.array(1.5), np.array(True), np.arange(3), np.zeros((2, 2), np.float32)],
                         ids=lambda v: f"{type(v).__name__}-{getattr(v, 'dtype', '')}-{np.ndim(v)}d")
def test_dumps_accepts_every_numpy_value(value):
    assert json.loads(R.dumps({"v": value})) == {"v": np.asarray(value).tolist()}


def test_every_json_writer_accepts_numpy_values(tmp_path):
    from grader.reports.classview import write_submission
    data = json.loads(R.to_json([numpy_report()]))
    assert data["score"] == 1.5 and data["items"][0]["max_score"] == 3 and data["items"][1]["max_score"] == 2
    results = json.loads(R.to_gradescope(numpy_report()))
    assert results["score"] == 1.5 and [t["max_score"] for t in results["tests"]] == [3, 2]
    folder = write_submission(numpy_report(), tmp_path)
    assert json.loads((folder / "report.json").read_text())["score"] == 1.5


def gated_report(visibility):
    checks = [CheckResult("5-step trajectory matches the reference", False, "W after step 1: got 2.09, expected 2.07"),
              CheckResult("float32 params stay float32", False, GATED_MESSAGE, gated=True)]
    out = "✗ 5-step trajectory ...\n✗ not graded until the values above match the reference: float32 params stay float32"
    return Report("mlp", "bob", [ItemResult("mlp.optim.sgd.weight_decay", 0.0, 1.25, "failed", visibility, out, checks)])


def test_hidden_items_show_gated_checks_as_not_graded_like_public_ones():
    from grader.reports.feedback import feedback_text
    output = json.loads(R.to_gradescope(gated_report("hidden")))["tests"][0]["output"]
    assert output.splitlines()[:2] == ["5-step trajectory matches the reference: failed",
                                       "float32 params stay float32: not graded until the values above match the reference"]
    assert "expected" not in output and "2.09" not in output
    text = feedback_text(gated_report("hidden"))
    assert "float32 params stay float32: not graded" in text and "float32: failed" not in text, text
    assert "not graded until the values above match the reference" in R.table([gated_report("public")])


def trained_report(*messages, status="passed", visibility="public"):
    items = [ItemResult(f"rnn.x{k}.nll", 10.0, 10.0, status, visibility, f"✓ held-out loss: {m}",
                        [CheckResult("held-out loss", True, m, credit=1.0)], trained=True)
             for k, m in enumerate(messages)]
    items.append(ItemResult("rnn.embedding.forward", 2.0, 2.0, "passed", "public", "✓ values", [CheckResult("values", True)]))
    return Report("rnn", "alice", items)


def test_table_shows_what_a_passed_trained_model_achieved():
    """`dlgrade check` prints `table`: a passed trained model's nats/char (or accuracy) is shown."""
    text = R.table([trained_report(NAMES)])
    assert "rnn.x0.nll: 1.9067 nats/char on 7226 held-out characters (full credit at <= 2.05" in text, text
    assert "rnn.embedding.forward:" not in text


def test_feedback_shows_the_models_samples():
    from grader.reports.feedback import feedback_text
    text = feedback_text(trained_report(NAMES, PLAY))
    assert "    samples: maurei, dreon, athziry" in text, text
    assert "    samples:\n      ROMEO:\n      Be gone." in text, text
    assert text.count("1.9067 nats/char") == 1


def test_a_hidden_trained_model_shows_nothing_to_the_student():
    from grader.reports.feedback import feedback_text
    assert "nats/char" not in feedback_text(trained_report(NAMES, visibility="hidden"))
    assert "nats/char" in R.table([trained_report(NAMES, visibility="hidden")])  # the instructor's table


def test_missing_weights_are_listed_with_the_trained_models():
    r = Report("mlp", "alice", [ItemResult("mlp.train.accuracy", 0.0, 11.0, "not_attempted", "public",
                                           "mlp_weights.npz not found (run the training script to create it)",
                                           trained=True)])
    assert "  mlp.train.accuracy: mlp_weights.npz not found" in R.table([r])
