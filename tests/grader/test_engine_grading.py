"""grader.engine.grading: the order items run in, and where expected values come from."""
import contextlib
import threading
import time
from dataclasses import dataclass

import pytest

from grader import engine
from grader.engine import grading
from grader.results import ItemResult
from tests.conftest import ROOT

KEY = ROOT / "solutions" / "linear"
ITEM = "linear.logistic.sigmoid"  # public, compared with the reference in a worker


@dataclass
class FakeItem:
    id: str
    exclusive: bool = False
    points: float = 1.0
    visibility: str = "public"
    module: str = ""
    files: tuple = ()


def _intervals(monkeypatch, lock=None):
    """Grade two submissions with four threads over three shared items and two exclusive ones;
    (item, start, end) of every run."""
    fakes = [FakeItem("a"), FakeItem("b"), FakeItem("t1", exclusive=True), FakeItem("c"), FakeItem("t2", exclusive=True)]
    ran, guard = [], threading.Lock()

    def fake_grade(item, submission, opts):
        start = time.monotonic()
        time.sleep(0.15)
        with guard:
            ran.append((item, start, time.monotonic()))
        return ItemResult(item.id, 1.0, 1.0, "passed", "public", "")

    monkeypatch.setattr(grading, "select_items", lambda assignment, opts, only: fakes)
    monkeypatch.setattr(grading, "grade_item", fake_grade)
    if lock is not None:
        monkeypatch.setattr(grading, "SharedExclusiveLock", lock)
    reports = engine.grade_many("linear", [KEY, KEY], opts=engine.Options(sandbox=False, prestart=False), jobs=4)
    assert [[i.id for i in r.items] for r in reports] == [["a", "b", "t1", "c", "t2"]] * 2  # the registry's order
    return ran


def _overlaps(ran):
    return [(x.id, y.id) for n, (x, s1, e1) in enumerate(ran) for (y, s2, e2) in ran[n + 1:] if s1 < e2 and s2 < e1]


def test_exclusive_items_run_alone_after_the_shared_ones(monkeypatch):
    ran = _intervals(monkeypatch)
    overlaps = _overlaps(ran)
    assert overlaps, "shared items ran one at a time: nothing ran in parallel"
    assert all(a not in ("t1", "t2") and b not in ("t1", "t2") for a, b in overlaps), overlaps
    first_exclusive = min(s for item, s, _ in ran if item.exclusive)
    assert all(e <= first_exclusive for item, _, e in ran if not item.exclusive)


class NoLock:
    def hold(self, exclusive):
        return contextlib.nullcontext()


def test_without_the_lock_exclusive_items_would_overlap(monkeypatch):
    """The other side: the test above fails when nothing keeps timed items apart."""
    overlaps = _overlaps(_intervals(monkeypatch, lock=NoLock))
    assert any("t1" in pair or "t2" in pair for pair in overlaps), overlaps


def _item(item_id):
    return next(i for i in engine.items("linear") if i.id == item_id)


def test_public_cases_cover_public_items_and_keep_one_salt(tmp_path):
    cases = engine.PublicCases({})
    opts = engine.Options(cases=cases, salt="public")
    selected = engine.select_items("linear", opts, None)
    assert selected and all(i.visibility == "public" for i in selected)
    assert len(selected) < len(engine.select_items("linear", engine.Options(), None))
    assert engine.submission_salt(opts, KEY, "linear") == "public"
    assert engine.submission_salt(engine.Options(salt="s"), KEY, "linear") not in ("s", "public")


@pytest.mark.parametrize("tamper, status", [(False, "passed"), (True, "failed")], ids=["stored", "tampered"])
def test_expected_values_come_from_the_source(tamper, status):
    """The same answer key, compared with public cases taken from the reference: it passes; with
    the stored expected values changed, it fails: what the source says is what is compared."""
    item = _item(ITEM)
    calls, expected, alternatives = engine.reference_cases(item, "source-test")
    if tamper:
        for out in expected:
            out["out"] = out["out"] + 0.5
    source = engine.PublicCases({ITEM: (calls, expected, alternatives)})
    _, _, _, seconds = source.compared(item, "any salt")
    assert seconds is None  # no reference time: the item's own timeout
    result = engine.grade_item(item, KEY, engine.Options(cases=source, sandbox=False))
    assert result.status == status, result.output


def test_the_oracle_draws_cases_per_salt():
    item = _item(ITEM)
    oracle = engine.Oracle()
    assert oracle.covers(item) and oracle.per_submission and not oracle.missing_data_fails_item
    one, two = oracle.compared(item, "salt-1"), oracle.compared(item, "salt-2")
    assert one[3] is not None
    assert any(a.inputs["z"].shape != b.inputs["z"].shape or (a.inputs["z"] != b.inputs["z"]).any()
               for a, b in zip(one[0], two[0]))
