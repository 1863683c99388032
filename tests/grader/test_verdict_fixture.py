"""What `dlgrade grade` says about every answer key and every stub is what it said when
`tests/fixtures/verdicts/` was recorded: the same items, statuses, scores and messages (computed
numbers within a relative 1e-6; speed items' timings left out). The planted submissions recorded
there were compared once, for the redesign of issue 20 (`python tests/fixtures/record_verdicts.py
compare`); tests/grader/test_planted_bugs.py keeps each one losing exactly its items."""
import importlib.util
import json
import tempfile
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
_spec = importlib.util.spec_from_file_location("record_verdicts", FIXTURES / "record_verdicts.py")
record = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(record)


@pytest.mark.parametrize("assignment", record.ASSIGNMENTS)
def test_answer_key_and_stub_get_the_recorded_verdicts(assignment):
    old = json.loads((FIXTURES / "verdicts" / f"{assignment}.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        key = record.student_copy(record.harness.copy_solution(Path(tmp) / "key", assignment))
        graded = record.dlgrade(assignment, [key, record.ROOT / "assignments" / assignment])
    new = {"__solution__": record.record_of(graded[0]), "__stub__": record.record_of(graded[1])}
    assert record.differences({k: old[k] for k in new}, new) == []


def test_a_changed_verdict_is_a_difference():
    old = [["a.b", "passed", 2.0, 2, "✓ y matches the reference"]]
    assert record.differences({"s": old}, {"s": old}) == []
    assert record.differences({"s": old}, {"s": [["a.b", "failed", 0.0, 2, old[0][4]]]})
    assert record.differences({"s": [["a.b", "failed", 0.0, 2, "got 0.5"]]}, {"s": [["a.b", "failed", 0.0, 2, "got 0.6"]]})
    assert not record.differences({"s": [["a.b", "failed", 0.0, 2, "got 0.5"]]},
                                  {"s": [["a.b", "failed", 0.0, 2, "got 0.50000000001"]]})
