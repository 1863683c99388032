"""The class view from the installed wheel: `dlgrade grade A KEY BUG STUB -o OUTDIR -j 2` for every
assignment, then the same run killed with SIGKILL midway and finished with `--resume`.

KEY is the answer key's code, BUG the answer key with one planted bug of
tests/submissions/A/bugs/ (built as tests/submissions/harness.py builds it), STUB the released
assignments/A. KEY and BUG are handed in without trained weights: their trained-model items are
"not attempted" (test_wheel grades the answer key's weights once; grading them here again would
triple the journeys' time)."""
import csv
import json
import shutil

import pytest

from .conftest import ASSIGNMENTS, REPO, build_bug, copy_key, is_timed, is_untrained, kill_group, start, wait_for

SUBMISSIONS = ("key", "bug", "stub")
PER_SUBMISSION = ("report.json", "feedback.txt", "scores.png")


def describe(item):
    return f"{item['id']}: {item['score']}/{item['max_score']} {item['status']}\n    {item['output'][:300]}"


@pytest.fixture(scope="module")
def classes(tmp_path_factory, dlgrade, run):
    """`classes(A)` -> (submission folders, affected items of BUG, the uninterrupted run's process,
    its OUTDIR), run once per assignment on first use."""
    cache = {}

    def get(assignment):
        if assignment not in cache:
            root = tmp_path_factory.mktemp(f"class-{assignment}")
            subs = root / "submissions"
            key = copy_key(assignment, subs / "key")
            bug, affects = build_bug(assignment, subs / "bug")
            stub = shutil.copytree(REPO / "assignments" / assignment, subs / "stub")
            out = root / "out"
            proc = run(dlgrade, "grade", assignment, key, bug, stub, "-o", out, "-j", "2", ok=False)
            cache[assignment] = ([key, bug, stub], affects, proc, out)
        return cache[assignment]
    return get


def read_grades(out):
    with open(out / "grades.csv", newline="") as f:
        return {row["id"]: row for row in csv.DictReader(f)}


def reports(out):
    return {s: json.loads((out / s / "report.json").read_text()) for s in SUBMISSIONS}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_class_view(assignment, classes):
    _, affects, proc, out = classes(assignment)
    assert proc.returncode == 0, f"dlgrade grade -o failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
    for name in ("grades.csv", "summary.html"):
        assert (out / name).is_file() and (out / name).stat().st_size, name
    for s in SUBMISSIONS:
        for name in PER_SUBMISSION:
            assert (out / s / name).is_file() and (out / s / name).stat().st_size, f"{s}/{name}"
    grades = read_grades(out)
    assert sorted(grades) == sorted(SUBMISSIONS), list(grades)
    got = reports(out)
    for s, report in got.items():
        assert float(grades[s]["score"]) == pytest.approx(report["score"]), s
        assert float(grades[s]["max_score"]) == pytest.approx(100), s

    key = got["key"]["items"]
    wrong = [describe(i) for i in key if i["status"] != "passed"
             and not is_untrained(assignment, i) and not (is_timed(i["id"]) and i["status"] == "partial")]
    assert not wrong, "the answer key loses points:\n" + "\n".join(wrong)
    untrained = sum(i["max_score"] for i in key if is_untrained(assignment, i))
    assert untrained > 0, "no trained-model item says its weights are missing"
    assert got["key"]["score"] <= 100 - untrained + 1e-9

    bug = {i["id"]: i for i in got["bug"]["items"]}
    assert set(affects) <= set(bug), f"unknown items {set(affects) - set(bug)}"
    missed = [describe(bug[a]) for a in affects if not bug[a]["score"] < bug[a]["max_score"]]
    collateral = [describe(i) for i in bug.values() if i["id"] not in affects and i["status"] != "passed"
                  and not is_untrained(assignment, i) and not (is_timed(i["id"]) and i["status"] == "partial")]
    assert not missed and not collateral, f"BUG should lose {affects}:\nmissed: {missed}\ncollateral: {collateral}"

    stub = got["stub"]
    assert stub["score"] == 0 and float(grades["stub"]["score"]) == 0
    assert {i["status"] for i in stub["items"]} == {"not_attempted"}, [describe(i) for i in stub["items"]]


def comparable(out):
    """{id: (status, score without timed items, {item: status})} from a class view."""
    grades = read_grades(out)
    result = {}
    for s, report in reports(out).items():
        timed = sum(i["score"] for i in report["items"] if is_timed(i["id"]))
        result[s] = (grades[s]["status"], float(grades[s]["score"]) - timed,
                     {i["id"]: i["status"] if not is_timed(i["id"]) else "timed" for i in report["items"]})
    return result


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_resume_after_sigkill(assignment, classes, dlgrade, env, scratch, tmp_path):
    """Killed (SIGKILL to its process group) once its first result is on disk, the run finished by
    `--resume` writes the uninterrupted run's grades.csv (same ids, statuses, scores; the timed
    items aside) and does not grade again the submission that was done."""
    subs, _, proc, out = classes(assignment)
    assert proc.returncode == 0, f"the uninterrupted run failed:\n{proc.stderr[-4000:]}"
    out2 = tmp_path / "out2"
    args = [dlgrade, "grade", assignment, *subs, "-o", out2, "-j", "2"]
    killed = start(args, cwd=scratch, env=env)

    def first_result():
        return [p for p in (out2 / "results").glob("*.json") if not p.name.startswith(".")] \
            if (out2 / "results").is_dir() else []
    try:
        wait_for(lambda: first_result() or killed.poll() is not None, 600, "the first result file")
    finally:
        was_running = kill_group(killed)
    output = killed.stdout.read()
    assert was_running, f"the run ended before it could be killed ({killed.returncode}):\n{output[-3000:]}"
    done = {p.name: p.read_bytes() for p in first_result()}
    assert 1 <= len(done) < len(SUBMISSIONS), sorted(done)

    resumed = start([*args, "--resume"], cwd=scratch, env=env)
    output = resumed.communicate(timeout=900)[0]
    assert resumed.returncode == 0, f"--resume failed ({resumed.returncode}):\n{output[-4000:]}"
    assert "Traceback (most recent call last)" not in output, output[-4000:]
    for name, data in done.items():
        assert (out2 / "results" / name).read_bytes() == data, f"--resume graded {name} again"
    first, second = comparable(out), comparable(out2)
    assert sorted(first) == sorted(second)
    for s in first:
        assert first[s][0] == second[s][0] and first[s][2] == second[s][2], s
        assert first[s][1] == pytest.approx(second[s][1]), s
