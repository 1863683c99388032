"""Progressive hints in `dlgrade check`: an item that fails again says more (the failing element,
then the pattern of the error, then the known bug); it starts again once it passes; `--all-hints`
says everything at once; the attempts file is never trusted and never submitted."""
import json
import os
import zipfile

import pytest

from grader.student import hints
from tests.conftest import dlgrade
from tests.submissions import harness

ITEM = "mlp.optim.momentum"
BUG = "momentum_wrong_sign"  # matches a known bug (solutions/mlp/mutants.py) and has a pattern
ELEMENT = "W after step 1 [float64]: 12 of 12 entries differ; worst at index"
PATTERN = "pattern: the term 1 * W"
KNOWN = "likely bug: the momentum step has the wrong sign"
MORE = "(hint level"


def check(folder, *extra):
    result = dlgrade("check", "mlp", folder, "--item", ITEM, *extra)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout


def details(out):
    """What `check` says about failing items, less the line announcing the next level."""
    text = out.split("Details:", 1)[1] if "Details:" in out else ""
    return "\n".join(line for line in text.splitlines() if MORE not in line)


def attempts(folder):
    path = folder / hints.ATTEMPTS
    return json.loads(path.read_text())["attempts"] if path.is_file() else None


@pytest.fixture
def buggy(tmp_path):
    planted = next(p for p in harness.load("bugs") if p.name == BUG)
    assert ITEM in planted.affects
    return harness.build(planted, tmp_path / "mlp")


def test_the_answer_key_gets_no_hints(tmp_path):
    folder = harness.copy_solution(tmp_path / "mlp")
    out = check(folder)
    assert f"{ITEM}" in out and "passed" in out and not details(out)
    assert PATTERN not in out and KNOWN not in out and MORE not in out
    assert attempts(folder) is None  # nothing to count: no file


def test_hints_grow_with_each_failing_run_and_reset_on_a_pass(buggy):
    (buggy / hints.FOLDER).mkdir()
    (buggy / hints.ATTEMPTS).write_text("{not json")  # a corrupt file counts as empty
    first = check(buggy)
    graded = dlgrade("grade", "mlp", buggy, "--item", ITEM).stdout  # the instructor sees everything, always
    assert ELEMENT in graded and KNOWN in graded and MORE not in graded, graded
    second, third = check(buggy), check(buggy)
    assert ELEMENT in details(first) and PATTERN not in first and KNOWN not in first
    assert "hint level 1 of 3" in first
    assert ELEMENT in details(second) and PATTERN in second and KNOWN not in second
    assert "hint level 2 of 3" in second
    assert ELEMENT in details(third) and PATTERN in third and KNOWN in third and MORE not in third
    assert len(details(first)) < len(details(second)) < len(details(third))
    assert attempts(buggy) == {ITEM: 3}
    packed = dlgrade("submit", "mlp", buggy, "--no-check", "-o", buggy.parent / "s.zip")
    assert packed.returncode == 0, packed.stderr
    names = zipfile.ZipFile(buggy.parent / "s.zip").namelist()
    assert "optim.py" in names and not any(hints.FOLDER in n for n in names), names  # never submitted

    fixed = (harness.solution_dir() / "optim.py").read_bytes()
    broken = (buggy / "optim.py").read_bytes()
    (buggy / "optim.py").write_bytes(fixed)
    out = check(buggy)
    assert not details(out) and attempts(buggy) == {}  # passed: the count starts again
    (buggy / "optim.py").write_bytes(broken)
    again = check(buggy)
    assert PATTERN not in again and KNOWN not in again and "hint level 1 of 3" in again


def test_all_hints_shows_every_level_at_once_and_a_folder_in_the_way_is_a_note(buggy):
    (buggy / hints.FOLDER).write_text("a file where the attempts folder goes")
    result = dlgrade("check", "mlp", buggy, "--item", ITEM, "--all-hints")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert ELEMENT in result.stdout and PATTERN in result.stdout and KNOWN in result.stdout
    assert MORE not in result.stdout and "note: hint levels not recorded" in result.stderr


HOSTILE = {
    "garbage": lambda p: p.write_bytes(b"\xff\xfe\x00garbage"),
    "a list": lambda p: p.write_text("[1, 2, 3]"),
    "attempts not a dict": lambda p: p.write_text('{"attempts": [1]}'),
    "deep nesting": lambda p: p.write_text("[" * 100000 + "]" * 100000),
    "too large": lambda p: p.write_text('{"attempts": {}, "pad": "' + "x" * (hints.MAX_BYTES + 10) + '"}'),
    "a folder": lambda p: p.mkdir(),
    "a fifo": lambda p: os.mkfifo(p),
    "a link to /dev/zero": lambda p: p.symlink_to("/dev/zero"),
}


@pytest.mark.parametrize("make", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_attempts_file_counts_as_empty(tmp_path, make):
    (tmp_path / hints.FOLDER).mkdir()
    make(tmp_path / hints.ATTEMPTS)
    assert hints.load(tmp_path) == {}


def test_only_well_formed_counts_are_kept(tmp_path):
    (tmp_path / hints.FOLDER).mkdir()
    (tmp_path / hints.ATTEMPTS).write_text(json.dumps({"attempts": {
        "mlp.a": 2, "mlp.b": -1, "mlp.c": True, "mlp.d": "3", "mlp.e": 1.5, "x" * 300: 1}}))
    assert hints.load(tmp_path) == {"mlp.a": 2}


def test_the_count_is_written_atomically_and_replaces_a_link(tmp_path):
    target = tmp_path / "elsewhere.json"
    target.write_text("keep me")
    (tmp_path / hints.FOLDER).mkdir()
    (tmp_path / hints.ATTEMPTS).symlink_to(target)
    assert hints.save(tmp_path, {"mlp.a": 1}) == ""
    assert target.read_text() == "keep me" and not (tmp_path / hints.ATTEMPTS).is_symlink()
    assert hints.load(tmp_path) == {"mlp.a": 1}
    assert [p.name for p in (tmp_path / hints.FOLDER).iterdir() if p.name.endswith(".tmp")] == []


def test_a_folder_link_is_not_written_through(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    (work / hints.FOLDER).symlink_to(elsewhere)
    assert hints.save(work, {"mlp.a": 1}) != "" and list(elsewhere.iterdir()) == []


def test_hidden_items_lose_their_hints_in_the_students_feedback():
    from grader.items.checks import CheckResult, levels
    from grader.reports.feedback import student_view
    from grader.results import ItemResult, Report
    check_ = CheckResult("matches", False, "y: 1 of 2 entries differ; likely bug: secret",
                         hints=levels("y: 1 of 2 entries differ", "", "likely bug: secret"))
    items = [ItemResult(f"mlp.{v}", 0.0, 1.0, "failed", v, check_.message, [check_]) for v in ("public", "hidden")]
    view = student_view(Report("mlp", "x", items))
    assert view.items[0].checks[0].hints == check_.hints
    assert view.items[1].checks[0].hints == () and "secret" not in view.items[1].output
