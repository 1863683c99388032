"""Adversarial submissions: each costs only its affected items, and grading goes on.

Every file in ``tests/submissions/mlp/adversarial/`` is the answer key with one hostile snippet
appended (an infinite loop, ``os._exit``, ``sys.exit``, a 50 GB allocation, 1 GB of output, a
patched ``numpy.allclose`` with a wrong answer, an import of ``reference``); its ``# affects:``
header lists the items that must lose points and ``# status:`` their status. All submissions
are graded in one ``grade_many`` call with a short timeout, each followed by a copy of the
answer key, which must still get full marks.

To stay fast, every submission is graded on the items some submission affects plus one
canary item per modified module (``CANARIES``): hostile code runs only where its method is
called, a canary catches what leaks further (a patch made at import time), and the answer key
graded next catches what outlives a worker.
``DLGRADE_TEST_ALL_ITEMS=1`` grades every item.
"""
import importlib.util
import os
import time
from pathlib import Path

import pytest

from grader import engine

_spec = importlib.util.spec_from_file_location(
    "submissions_harness", Path(__file__).resolve().parents[1] / "submissions" / "harness.py")
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

ASSIGNMENT = "mlp"
TIMEOUT = 8.0  # seconds per item: enough for the answer key on two busy cores, cheap for a loop
ITEM_IDS = [i.id for i in engine.items(ASSIGNMENT) if i.id != "mlp.train.accuracy"]
SUBMISSIONS = harness.load("adversarial", ASSIGNMENT)
CORRECT = "__correct_after__"
CANARIES = ("mlp.linear.forward", "mlp.loss.nll", "mlp.optim.adagrad")  # one per module the snippets modify


def describe(item):
    return f"{item.id}: {item.score}/{item.max_score} {item.status}\n    " + item.output.replace("\n", "\n    ")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """(seconds, [(name, {item id: ItemResult})]) in grading order: each adversarial submission,
    then a correct one."""
    root = tmp_path_factory.mktemp("adversarial")
    only = selection()
    names, folders = [], []
    for k, sub in enumerate(SUBMISSIONS):
        names += [sub.name, CORRECT]
        folders += [harness.build(sub, root / sub.name, ASSIGNMENT),
                    harness.copy_solution(root / f"correct_{k}", ASSIGNMENT)]
    start = time.monotonic()
    reports = engine.grade_many(ASSIGNMENT, folders, opts=engine.Options(timeout=TIMEOUT), jobs=2, only=only)
    seconds = time.monotonic() - start
    return seconds, [(n, {i.id: i for i in r.items}) for n, r in zip(names, reports)]


def selection():
    if os.environ.get(harness.ALL_ITEMS_ENV):
        return list(ITEM_IDS)
    wanted = set(CANARIES).union(*(s.affects for s in SUBMISSIONS))
    return [i for i in ITEM_IDS if i in wanted]


def _by_name(graded, name):
    return next(results for n, results in graded[1] if n == name)


def test_submission_files_are_well_formed():
    known = set(ITEM_IDS)
    for sub in SUBMISSIONS:
        assert sub.doc and sub.affects and set(sub.affects) <= known, sub.name
        assert sub.status in ("timeout", "error", "failed", "partial"), sub.name


@pytest.mark.parametrize("sub", SUBMISSIONS, ids=[s.name for s in SUBMISSIONS])
def test_costs_only_affected_items(sub, graded):
    results = _by_name(graded, sub.name)
    affects = set(sub.affects)
    assert list(results) == selection()
    wrong = [describe(i) for i in results.values()
             if (i.id in affects and (i.status != sub.status or not i.score < i.max_score))
             or (i.id not in affects and i.score != i.max_score)]
    assert not wrong, f"{sub.name} ({sub.doc}), expected status {sub.status!r} on {sorted(affects)}:\n" + "\n".join(wrong)
    for item_id in affects:
        output = results[item_id].output
        assert output.strip(), describe(results[item_id])
        if sub.status == "timeout":
            assert "timed out" in output, describe(results[item_id])


def test_correct_submission_after_each_gets_full_marks(graded):
    order = [n for n, _ in graded[1]]
    assert order[1::2] == [CORRECT] * len(SUBMISSIONS)
    lost = [f"after {order[k - 1]}: " + describe(i)
            for k, (n, results) in enumerate(graded[1]) if n == CORRECT
            for i in results.values() if i.score != i.max_score]
    assert not lost, "\n".join(lost)


def test_timeouts_cost_little(graded):
    seconds, _ = graded
    loops = sum(len(s.affects) for s in SUBMISSIONS if s.status == "timeout")
    items = sum(len(r) for _, r in graded[1])
    # Each looping item costs one timeout; everything else runs at normal speed (~0.5 s/item).
    assert seconds < loops * (TIMEOUT + 5) + items * 1.5, f"{seconds:.0f} s for {items} items"


def test_forbidden_import_is_reported(graded):
    results = _by_name(graded, "import_reference")
    for item_id in ("mlp.softmax.forward", "mlp.softmax.backward"):
        assert "may not import 'reference" in results[item_id].output, describe(results[item_id])
