"""Shards for batch schedulers: `dlgrade grade ... --shard K/N -o OUTDIR` and `dlgrade merge`.

Every job of an array picks from the same sorted list, the shards cover the class exactly once,
and their merge is the class view of one unsharded run; a missing shard leaves its submissions
pending (exit 1), shards of different runs are refused (exit 2), before anything is written.
"""
import json
import shutil

import pytest

from grader.engine import shards
from grader.sandbox.runner import sandbox_problem
from tests.conftest import ROOT, dlgrade

pytestmark = pytest.mark.skipif(bool(sandbox_problem()), reason="grading needs bubblewrap")


@pytest.mark.parametrize("text, shard", [("0/1", (0, 1)), ("3/8", (3, 8)), ("7/8", (7, 8))])
def test_a_shard_is_k_of_n_counted_from_zero(text, shard):
    assert shards.parse(text) == shards.Shard(*shard)


@pytest.mark.parametrize("text", ["8/8", "-1/4", "1/0", "1", "a/b", "1/2/3", ""])
def test_a_shard_that_names_no_shard_is_refused_with_one_line(text):
    with pytest.raises(shards.ShardError, match="expected K/N"):
        shards.parse(text)


def test_the_shards_cover_the_class_once_whatever_order_the_paths_come_in():
    paths = [f"subs/s{k:02d}.zip" for k in range(23)]
    picked = [shards.Shard(k, 4).pick(paths) for k in range(4)]
    assert sorted(p for part in picked for p in part) == sorted(paths)
    assert [shards.Shard(k, 4).pick(reversed(paths)) for k in range(4)] == picked
    assert [len(p) for p in picked] == [6, 6, 6, 5]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Five submissions (the answer key twice, the stub, two planted bugs) graded whole and as
    three shards."""
    tmp = tmp_path_factory.mktemp("shards")
    from tests.submissions import harness
    subs = [tmp / "key", tmp / "key2", tmp / "stub"]
    for s in subs[:2]:
        shutil.copytree(ROOT / "solutions" / "linear", s, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "assignments" / "linear", subs[2])
    subs += [harness.build(p, tmp / p.name, "linear") for p in harness.load("bugs", "linear")[:2]]
    args = ["grade", "linear", *subs, "--seed", "shards"]
    whole = dlgrade(*args, "-o", tmp / "whole")
    assert whole.returncode == 0, whole.stderr
    for k in range(3):
        run = dlgrade(*args, "--shard", f"{k}/3", "-o", tmp / f"out-{k}")
        assert run.returncode == 0, run.stderr
    return tmp, subs


def test_the_merged_shards_are_the_class_view_of_one_run(graded):
    tmp, subs = graded
    run = dlgrade("merge", *(tmp / f"out-{k}" for k in range(3)), "-o", tmp / "merged")
    assert run.returncode == 0, run.stderr
    assert (tmp / "merged" / "grades.csv").read_text() == (tmp / "whole" / "grades.csv").read_text()
    for s in subs:  # each submission's files, the figures drawn in its shard included
        for name in ("feedback.txt", "report.json", "svm_templates.png"):
            assert (tmp / "merged" / s.name / name).is_file() == (tmp / "whole" / s.name / name).is_file(), name
        assert (tmp / "merged" / s.name / "feedback.txt").read_text() == \
            (tmp / "whole" / s.name / "feedback.txt").read_text()
    assert len(list((tmp / "merged" / "results").glob("*.json"))) == len(subs)
    assert (tmp / "merged" / "summary.html").is_file()


def test_a_missing_shard_leaves_its_submissions_pending(graded):
    tmp, subs = graded
    run = dlgrade("merge", tmp / "out-0", tmp / "out-2", "-o", tmp / "partial")
    assert run.returncode == 1
    assert "missing: shard 1/3 is missing (2 submissions pending)" in run.stderr
    rows = (tmp / "partial" / "grades.csv").read_text().splitlines()
    pending = sorted(map(str, subs))[1::3]
    assert sum(",pending," in r or "pending" in r.split(",")[2] for r in rows[1:]) == len(pending)


@pytest.mark.parametrize("problem, says", [
    ("same shard twice", "is also"),
    ("another seed", "another salt id"),
    ("not a shard", "no shard.json"),
])
def test_shards_that_cannot_be_joined_are_refused_before_writing(graded, problem, says):
    tmp, subs = graded
    outdirs = [tmp / "out-0", tmp / "out-1", tmp / "out-2"]
    if problem == "same shard twice":
        outdirs.append(tmp / "out-1")
        shutil.copytree(tmp / "out-1", tmp / "copy-1", dirs_exist_ok=True)
        outdirs[-1] = tmp / "copy-1"
    elif problem == "another seed":
        info = json.loads((tmp / "out-2" / "shard.json").read_text())
        (tmp / "other-2").mkdir(exist_ok=True)
        (tmp / "other-2" / "shard.json").write_text(json.dumps(dict(info, salt_id="0" * 12)))
        outdirs[-1] = tmp / "other-2"
    else:
        outdirs[-1] = tmp / "whole"
    run = dlgrade("merge", *outdirs, "-o", tmp / f"refused-{problem.replace(' ', '-')}")
    assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert says in run.stderr
    assert not (tmp / f"refused-{problem.replace(' ', '-')}").exists()


@pytest.mark.parametrize("args, says", [
    (["--shard", "3/3", "-o", "OUT"], "expected K/N"),
    (["--shard", "0/3"], "--shard needs -o OUTDIR"),
])
def test_grade_refuses_a_bad_shard_before_grading(tmp_path, args, says):
    run = dlgrade("grade", "linear", ROOT / "assignments" / "linear",
                  *[str(tmp_path / "out") if a == "OUT" else a for a in args])
    assert run.returncode == 2 and says in run.stderr and len(run.stderr.strip().splitlines()) == 1, run.stderr
