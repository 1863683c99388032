"""Planted bugs: each realistic student bug costs exactly the items it affects.

Every file in ``tests/submissions/<assignment>/bugs/`` is that assignment's answer key with one
bug appended to one module (see ``tests/submissions/harness.py``); its ``# affects:`` header
lists the items that must lose points. Every assignment with a ``bugs/`` folder takes part
(``mlp``, ``cnn``); the tests are parametrized over (assignment, bug), with ids like
``cnn/conv_dx_no_accumulate``.

Each assignment is graded once, in a module-scoped fixture, on first use (so ``-k cnn`` grades
only ``cnn``): one ``grade_many`` call per group of its submissions that share an item
selection, `jobs=2`; the parametrized tests only read the reports.

A submission is graded on the items whose worker can import the file it modifies (a bug in
``losses.py`` cannot reach an optimizer item: that worker never imports ``losses``); the other
items run the answer key's code unchanged and `test_solution_full_marks` covers them. Set
``DLGRADE_TEST_ALL_ITEMS=1`` to grade every item of every submission.
The items graded from trained weights (``mlp.train.accuracy``, ``rnn.names.nll``, ...) are left out: they
grade the shipped weights with the reference layers. The ``cnn`` selection includes the Conv2d
speed items: a bug that makes Conv2d's result wrong loses its speed credit as well. A speed item
whose timing verdict misses (a correct Conv2d below full credit) is graded again, at most
`harness.TIMING_RETRIES` more times, and the test warns about it (see `harness.regrade_timing`).
"""
import importlib.util
import warnings
from collections import defaultdict
from pathlib import Path

import pytest

from grader import engine
from grader.items import TrustedItem

_spec = importlib.util.spec_from_file_location(
    "submissions_harness", Path(__file__).resolve().parents[1] / "submissions" / "harness.py")
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

ASSIGNMENTS = [a for a in engine.assignments() if (harness.HERE / a / "bugs").is_dir()]
EXCLUDED = {i.id for a in engine.assignments() for i in engine.items(a) if isinstance(i, TrustedItem)}
ITEM_IDS = {a: [i.id for i in engine.items(a) if i.id not in EXCLUDED] for a in ASSIGNMENTS}
BUGS = {a: harness.load("bugs", a) for a in ASSIGNMENTS}
CASES = [(a, bug) for a in ASSIGNMENTS for bug in BUGS[a]]
SOLUTION = "__solution__"


def describe(item):
    return f"{item.id}: {item.score}/{item.max_score} {item.status}\n    " + item.output.replace("\n", "\n    ")


def grade_assignment(assignment, root):
    """{submission name: {item id: ItemResult}} for the answer key and every planted bug."""
    item_ids = ITEM_IDS[assignment]
    folders = {SOLUTION: harness.copy_solution(root / SOLUTION, assignment)}
    groups = defaultdict(list)  # item selection -> submission names
    groups[tuple(item_ids)].append(SOLUTION)
    for bug in BUGS[assignment]:
        folders[bug.name] = harness.build(bug, root / bug.name, assignment)
        groups[tuple(harness.dependent_items(item_ids, [bug.file], assignment))].append(bug.name)
    out, regraded = {}, defaultdict(list)
    for only, names in groups.items():
        graded = engine.grade_many(assignment, [folders[n] for n in names], jobs=2, only=list(only))
        for name, report in zip(names, graded):
            assert [i.id for i in report.items] == list(only), name
            out[name] = {i.id: i for i in report.items}
    affects = {bug.name: set(bug.affected(item_ids)) for bug in BUGS[assignment]}
    for name, results in out.items():
        for item_id in set(harness.timing_items(assignment)) & set(results):
            def wanted(r, lose=item_id in affects.get(name, ())):
                return r.score < r.max_score if lose else r.score == r.max_score
            results[item_id], earlier = harness.regrade_timing(assignment, folders[name], results[item_id], wanted)
            regraded[name] += [describe(r) for r in earlier]
    return out, regraded


def warn_regraded(regraded, name):
    if regraded.get(name):
        warnings.warn(f"{name}: speed items graded again after a timing miss:\n" + "\n".join(regraded[name]))


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """`reports(assignment)` -> ({submission name: {item id: ItemResult}}, {submission name:
    [descriptions of speed-item results graded again]}), graded once per assignment (on first
    use) for the whole module."""
    cache = {}

    def get(assignment):
        if assignment not in cache:
            cache[assignment] = grade_assignment(assignment, tmp_path_factory.mktemp(f"planted_{assignment}"))
        return cache[assignment]
    return get


def test_assignments_with_bugs():
    assert {"linear", "mlp", "cnn", "rnn"} <= set(ASSIGNMENTS)


def test_copy_solution_copies_symlinked_files(tmp_path):
    """solutions/cnn/layers.py is a symlink into solutions/mlp: the copy is a regular file with
    its contents, so a planted bug appended to it never reaches the mlp answer key."""
    links = [p for p in harness.solution_dir("cnn").glob("*.py") if p.is_symlink()]
    assert links
    dest = harness.copy_solution(tmp_path / "cnn", "cnn")
    for link in links:
        copy = dest / link.name
        assert copy.is_file() and not copy.is_symlink()
        assert copy.read_bytes() == link.resolve().read_bytes()


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_item_is_lost_by_some_planted_bug(assignment):
    """Every item graded on the student's code (trained-weight items aside) has a planted bug that
    must lose it: no item is shown to pass right code without also being shown to fail wrong code."""
    lost = {i for bug in BUGS[assignment] for i in bug.affected(ITEM_IDS[assignment])}
    assert [i for i in ITEM_IDS[assignment] if i not in lost] == []


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_bug_files_are_well_formed(assignment):
    bugs, item_ids = BUGS[assignment], ITEM_IDS[assignment]
    assert bugs
    known = set(item_ids)
    for bug in bugs:
        assert bug.doc, f"{bug.name}: needs a docstring describing the bug"
        assert bug.file == "*" or (harness.solution_dir(assignment) / bug.file).is_file(), \
            f"{bug.name}: bad '# file: {bug.file}'"
        affects = set(bug.affected(item_ids))
        assert affects, f"{bug.name}: '# affects:' is empty"
        assert affects <= known, f"{bug.name}: unknown items {affects - known}"
        assert affects <= set(harness.dependent_items(item_ids, [bug.file], assignment)), \
            f"{bug.name}: affects items that cannot import {bug.file}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_full_marks(assignment, reports):
    out, regraded = reports(assignment)
    warn_regraded(regraded, SOLUTION)
    results = out[SOLUTION]
    assert list(results) == ITEM_IDS[assignment]
    lost = [describe(i) for i in results.values() if i.score != i.max_score]
    assert not lost, "the answer key loses points:\n" + "\n".join(lost)
    assert all(i.status == "passed" for i in results.values())


@pytest.mark.parametrize("assignment, bug", CASES, ids=[f"{a}/{b.name}" for a, b in CASES])
def test_planted_bug(assignment, bug, reports):
    out, regraded = reports(assignment)
    warn_regraded(regraded, bug.name)
    results = out[bug.name]
    affects = set(bug.affected(ITEM_IDS[assignment]))
    missed = [describe(i) for i in results.values() if i.id in affects and not i.score < i.max_score]
    collateral = [describe(i) for i in results.values() if i.id not in affects and i.score != i.max_score]
    assert not missed and not collateral, (
        f"{assignment}/{bug.name} ({bug.doc})\n"
        + ("items that should lose points but do not:\n" + "\n".join(missed) + "\n" if missed else "")
        + ("items that lose points but are not in '# affects':\n" + "\n".join(collateral) if collateral else ""))
    for item_id in affects:
        item = results[item_id]
        if bug.score:
            assert item.score == float(bug.score), describe(item)
        allowed = (bug.status,) if bug.status else ("partial", "failed", "error") if bug.score else ("partial", "failed")
        assert item.status in allowed, describe(item)
        if item.status not in ("partial", "failed"):
            continue
        failing = [c for c in item.checks if not c.passed]
        assert failing and all(c.message for c in failing), f"a failing check without a message:\n{describe(item)}"
