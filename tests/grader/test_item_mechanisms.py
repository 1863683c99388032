"""Item mechanisms of issue 19 (class 4) and issue 18 (class 6): items run the student's code only
for the unit they name, correct loop-based code keeps its marks, item limits scale with the
reference's time, and a speed ratio reports its spread."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from grader import engine
from grader.items import TIMEOUT_FACTOR, Call, Item, SpeedItem, TrustedItem

_spec = importlib.util.spec_from_file_location(
    "submissions_harness", Path(__file__).resolve().parents[1] / "submissions" / "harness.py")
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

SLOW = [(a, s) for a in ("mlp",) for s in harness.load("slow", a)]


@pytest.mark.parametrize("assignment, variant", SLOW, ids=[f"{a}/{s.name}" for a, s in SLOW])
def test_correct_loop_based_code_keeps_full_marks(assignment, variant, tmp_path):
    """A correct implementation written with Python loops (what the contract allows where it asks
    for no speed) keeps every point of every item its module reaches (the initialisation study
    included: it runs no layer of the student's)."""
    item_ids = [i.id for i in engine.items(assignment) if not isinstance(i, TrustedItem)]
    only = harness.dependent_items(item_ids, [variant.file], assignment)
    assert only
    report = engine.grade(assignment, harness.build(variant, tmp_path / variant.name, assignment), only=only)
    lost = [f"{i.id}: {i.score}/{i.max_score} {i.status}\n{i.output}" for i in report.items if i.score != i.max_score]
    assert not lost, "\n".join(lost)


@pytest.mark.parametrize("reference_s, limit", [(0.0, 30.0), (0.1, 30.0), (1.0, TIMEOUT_FACTOR), (3.0, 3 * TIMEOUT_FACTOR)])
def test_item_limit_scales_with_the_reference_time(reference_s, limit):
    assert Item("x.y", 1).time_limit(reference_s) == pytest.approx(limit)
    assert Item("x.y", 1, timeout=300).time_limit(reference_s) == max(300, limit)


def _speed_result(student, reference):
    item = SpeedItem("x.speed", 1, name="Layer")
    y = np.ones((2, 3), np.float32)
    calls = [Call("speed", {}, {}), Call("layer", {}, {"x": y, "params": {}})]
    got = [{"times": {"student": np.array(student), "reference": np.array(reference)}}, {"0": {"y": y.copy()}}]
    return item.evaluate(calls, got, [None, {"0": {"y": y}}], [])[0]


def test_speed_output_reports_the_spread_of_the_ratio():
    """The ratio of medians decides the credit; the quartiles of the per-run ratios say how much
    it moved (a busy machine shows as a wide range), and change no credit."""
    steady = _speed_result([2e-3] * 9, [1e-3] * 9)
    assert "ratio 2.00" in steady.message and "interquartile range 2.00 to 2.00 (width 0.00)" in steady.message
    noisy = _speed_result([2e-3] * 9, [1e-3, 2e-3, 0.5e-3] * 3)  # per-run ratios 2, 1, 4, ...
    assert "ratio 2.00" in noisy.message and "interquartile range 1.00 to 4.00 (width 3.00)" in noisy.message, \
        noisy.message
    assert noisy.credit == steady.credit == 1.0


def test_grading_gives_an_item_the_limit_its_reference_time_sets(tmp_path, monkeypatch):
    """A student function that takes 2 s: over an item floor of 1 s when the reference's time sets no
    more (a timeout), inside it when the reference took 0.1 s (50 x 0.1 = 5 s)."""
    import dataclasses
    item = dataclasses.replace(next(i for i in engine.items("linear") if i.id == "linear.logistic.sigmoid"), timeout=1.0)
    (tmp_path / "logistic.py").write_text(
        "import time\nimport numpy as np\n\ntime.sleep(2)  # once, as the module is imported\n\n"
        "def sigmoid(z):\n    return 1 / (1 + np.exp(-z))\n")
    opts = engine.Options(cases=engine.Oracle(), salt="limit-test", prestart=False)
    engine.reference_cases(item, opts.salt)  # the reference's time is recorded here, then set below
    monkeypatch.setitem(engine.REFERENCE_SECONDS, item.id, 0.0)
    assert engine.grade_item(item, tmp_path, opts).status == "timeout"
    monkeypatch.setitem(engine.REFERENCE_SECONDS, item.id, 0.1)
    assert engine.grade_item(item, tmp_path, opts).status == "passed"
