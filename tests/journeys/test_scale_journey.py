"""A class larger than one machine, from the instructor's wheel with its extras
(`pip install 'dlgrade[cluster,similarity]'`): the installed `dask scheduler` and `dask worker`
commands, `dlgrade grade --cluster` and `--shard` with `dlgrade merge`, a roster, and
`dlgrade similarity`, all run from a folder outside the repository.

The cluster run and the merged shards must write the same gradebook and LMS exports, and the
similarity review must flag the two identical answer keys and never the stub.
"""
import json
import shutil
import time

import pytest

from .conftest import REPO, kill_group, needs_data, start

SEED = "journey"


@pytest.fixture(scope="module")
def extras(run, artifacts, wheel_venv):
    """The wheel's venv with the cluster and similarity extras installed."""
    run(wheel_venv / "bin" / "pip", "install", "-q", f"{artifacts['wheel']}[cluster,similarity]")
    return wheel_venv


@pytest.fixture(scope="module")
def klass(scratch):
    """Two copies of the answer key (with its weights), the stub, and a roster naming them."""
    root = scratch / "scale-class"
    for name in ("alice", "bob"):
        shutil.copytree(REPO / "solutions" / "linear", root / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "assignments" / "linear", root / "carol")
    (root / "roster.csv").write_text("student_id,name,submission\ns1,Alice A,alice\ns2,Bob B,bob\ns3,Carol C,carol\n")
    return root


@pytest.fixture(scope="module")
def cluster(extras, env, klass):
    """The scheduler's address; a scheduler and two workers of the wheel's venv, on loopback."""
    bin_ = extras / "bin"
    info = klass / "scheduler.json"
    procs = [start([bin_ / "dask", "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                    "--scheduler-file", info], cwd=klass, env=env)]
    try:
        deadline = time.monotonic() + 120
        while not info.is_file() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(info.read_text())["address"]
        procs += [start([bin_ / "dask", "worker", address, "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard"],
                        cwd=klass, env=env) for _ in range(2)]
        yield address
    finally:
        for p in procs:
            kill_group(p)


def test_the_cluster_and_the_merged_shards_write_one_gradebook(run, extras, klass, cluster):
    needs_data()
    dlgrade = extras / "bin" / "dlgrade"
    subs = [klass / n for n in ("alice", "bob", "carol")]
    common = ["--seed", SEED, "--roster", klass / "roster.csv"]
    run(dlgrade, "grade", "linear", *subs, "--cluster", cluster, "-o", klass / "on-cluster", *common, cwd=klass)
    for k in range(2):
        run(dlgrade, "grade", "linear", *subs, "--shard", f"{k}/2", "-o", klass / f"shard-{k}", *common, cwd=klass)
    run(dlgrade, "merge", klass / "shard-0", klass / "shard-1", "-o", klass / "merged", "--roster", klass / "roster.csv",
        cwd=klass)
    for name in ("grades.csv", "canvas.csv", "moodle.csv"):
        assert (klass / "merged" / name).read_text() == (klass / "on-cluster" / name).read_text(), name
    rows = (klass / "on-cluster" / "grades.csv").read_text().splitlines()
    assert rows[0].startswith("student_id,name,")
    assert [r.split(",")[:2] for r in rows[1:]] == [["s1", "Alice A"], ["s2", "Bob B"], ["s3", "Carol C"]]
    assert [r.split(",")[5] for r in rows[1:]] == ["100", "100", "0"], rows  # student_id, name, id, submission, status, score


def test_the_similarity_review_flags_the_copies_and_never_the_stub(run, extras, klass):
    dlgrade = extras / "bin" / "dlgrade"
    run(dlgrade, "similarity", "linear", *(klass / n for n in ("alice", "bob", "carol")), "-o", klass / "review",
        cwd=klass)
    pairs = json.loads((klass / "review" / "similarity.json").read_text())["pairs"]
    assert [(p["a"].split("/")[-1], p["b"].split("/")[-1]) for p in pairs] == [("alice", "bob")], pairs
