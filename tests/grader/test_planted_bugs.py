"""Planted bugs: each realistic student bug costs exactly the items it affects.

Every file in ``tests/submissions/mlp/bugs/`` is the answer key with one bug appended to one
module (see ``tests/submissions/harness.py``); its ``# affects:`` header lists the items that
must lose points. All submissions are graded once, in a module-scoped fixture (one
``grade_many`` call per group of submissions that share an item selection, `jobs=2`); the
parametrized tests only read the reports.

A submission is graded on the items whose worker can import the file it modifies (a bug in
``losses.py`` cannot reach an optimizer item: that worker never imports ``losses``); the other
items run the answer key's code unchanged and `test_solution_full_marks` covers them. Set
``DLGRADE_TEST_ALL_ITEMS=1`` to grade every item of every submission.
``mlp.train.accuracy`` is left out: it grades the shipped weights with the reference layers.
"""
import importlib.util
from collections import defaultdict
from pathlib import Path

import pytest

from grader import api

_spec = importlib.util.spec_from_file_location(
    "submissions_harness", Path(__file__).resolve().parents[1] / "submissions" / "harness.py")
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

ASSIGNMENT = "mlp"
EXCLUDED = {"mlp.train.accuracy"}
ITEM_IDS = [i.id for i in api.items(ASSIGNMENT) if i.id not in EXCLUDED]
BUGS = harness.load("bugs", ASSIGNMENT)
SOLUTION = "__solution__"


def describe(item):
    return f"{item.id}: {item.score}/{item.max_score} {item.status}\n    " + item.output.replace("\n", "\n    ")


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """{submission name: {item id: ItemResult}} for the answer key and every planted bug."""
    root = tmp_path_factory.mktemp("planted")
    folders = {SOLUTION: harness.copy_solution(root / SOLUTION, ASSIGNMENT)}
    groups = defaultdict(list)  # item selection -> submission names
    groups[tuple(ITEM_IDS)].append(SOLUTION)
    for bug in BUGS:
        folders[bug.name] = harness.build(bug, root / bug.name, ASSIGNMENT)
        groups[tuple(harness.dependent_items(ITEM_IDS, [bug.file], ASSIGNMENT))].append(bug.name)
    out = {}
    for only, names in groups.items():
        graded = api.grade_many(ASSIGNMENT, [folders[n] for n in names], jobs=2, only=list(only))
        for name, report in zip(names, graded):
            assert [i.id for i in report.items] == list(only), name
            out[name] = {i.id: i for i in report.items}
    return out


def test_bug_files_are_well_formed():
    assert len(BUGS) >= 18
    known = set(ITEM_IDS)
    for bug in BUGS:
        assert bug.doc, f"{bug.name}: needs a docstring describing the bug"
        assert (harness.solution_dir(ASSIGNMENT) / bug.file).is_file(), f"{bug.name}: bad '# file: {bug.file}'"
        assert bug.affects, f"{bug.name}: '# affects:' is empty"
        assert set(bug.affects) <= known, f"{bug.name}: unknown items {set(bug.affects) - known}"
        assert set(bug.affects) <= set(harness.dependent_items(ITEM_IDS, [bug.file], ASSIGNMENT)), \
            f"{bug.name}: affects items that cannot import {bug.file}"


def test_solution_full_marks(reports):
    results = reports[SOLUTION]
    assert list(results) == ITEM_IDS
    lost = [describe(i) for i in results.values() if i.score != i.max_score]
    assert not lost, "the answer key loses points:\n" + "\n".join(lost)
    assert all(i.status == "passed" for i in results.values())


@pytest.mark.parametrize("bug", BUGS, ids=[b.name for b in BUGS])
def test_planted_bug(bug, reports):
    results = reports[bug.name]
    affects = set(bug.affects)
    missed = [describe(i) for i in results.values() if i.id in affects and not i.score < i.max_score]
    collateral = [describe(i) for i in results.values() if i.id not in affects and i.score != i.max_score]
    assert not missed and not collateral, (
        f"{bug.name} ({bug.doc})\n"
        + ("items that should lose points but do not:\n" + "\n".join(missed) + "\n" if missed else "")
        + ("items that lose points but are not in '# affects':\n" + "\n".join(collateral) if collateral else ""))
    for item_id in affects:
        item = results[item_id]
        assert item.status in ("partial", "failed"), describe(item)
        failing = [c for c in item.checks if not c.passed]
        assert failing and all(c.message for c in failing), f"a failing check without a message:\n{describe(item)}"
