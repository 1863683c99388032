"""Grading on a Dask cluster (`dlgrade grade ... --cluster ADDRESS`, grader/engine/cluster.py).

A real cluster on this machine, on loopback only: the standard `dask scheduler` and three
`dask worker` processes. A mixed class graded there, with one worker killed while it grades,
must come out item by item as the same class graded locally; a submission that times out is the
student's result, not retried; student code cannot reach the scheduler's or the workers' ports;
workers unlike this machine are refused before any grading.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from grader import engine, secret
from grader.engine import cluster
from grader.sandbox.runner import sandbox_problem
from tests.conftest import ROOT, dlgrade
from tests.submissions import harness

pytest.importorskip("distributed")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(bool(sandbox_problem()), reason="the cluster's workers sandbox with bubblewrap")]

SEED = "cluster-test"
SECRET = "a-course-secret-for-the-cluster-test"
DASK = str(Path(sys.executable).with_name("dask"))


def _start(args, log):
    return subprocess.Popen([DASK, *args], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


@pytest.fixture(scope="module")
def env():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DLGRADE_SECRET", SECRET)
        yield dict(os.environ)


@pytest.fixture(scope="module")
def scheduler(env, tmp_path_factory):
    """The address of a scheduler and three single-threaded workers on 127.0.0.1, the first
    started with the resource GPU=1 (it has no GPU: only where tasks go is tested with it)."""
    tmp = tmp_path_factory.mktemp("cluster")
    log = open(tmp / "cluster.log", "w")
    procs = [_start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                     "--scheduler-file", str(tmp / "scheduler.json")], log)]
    try:
        for _ in range(600):
            if (tmp / "scheduler.json").is_file():
                break
            time.sleep(0.1)
        address = json.loads((tmp / "scheduler.json").read_text())["address"]
        procs += [_start(["worker", address, "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard",
                          "--name", f"w{k}", *(["--resources", "GPU=1"] if k == 0 else [])], log) for k in range(3)]
        from distributed import Client
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(3, timeout=120)
        yield address
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        log.close()


def _with(dest, module=None, snippet=""):
    """The answer key (with its weights), with `snippet` appended to `module`."""
    shutil.copytree(ROOT / "solutions" / "linear", dest, ignore=shutil.ignore_patterns("__pycache__"))
    if module:
        with open(dest / module, "a") as f:
            f.write("\n\n" + snippet)
    return dest


def _probe(ports):
    """A sigmoid that tries every port and says what happened (the item's output shows it)."""
    return ("def sigmoid(z):\n"
            "    import socket\n"
            "    said = []\n"
            f"    for port in {ports!r}:\n"
            "        try:\n"
            "            socket.create_connection(('127.0.0.1', port), timeout=2).close()\n"
            "            said.append(f'REACHED:{port}')\n"
            "        except OSError as exc:\n"
            "            said.append(f'UNREACHABLE:{port}:{exc}')\n"
            "    raise RuntimeError(' '.join(said))\n")


@pytest.fixture(scope="module")
def mixed_class(scheduler, tmp_path_factory):
    """The answer key, the stub, three planted bugs, a submission that loops forever in one
    function, one that probes the cluster's ports, and an empty folder."""
    tmp = tmp_path_factory.mktemp("class")
    from distributed import Client
    with Client(scheduler, timeout="30s") as client:
        ports = sorted({urlparse(scheduler).port} | {urlparse(w).port for w in client.scheduler_info()["workers"]})
    paths = [_with(tmp / "key"), ROOT / "assignments" / "linear"]
    for planted in harness.load("bugs", "linear")[:3]:
        paths.append(harness.build(planted, tmp / planted.name, "linear"))
    paths.append(_with(tmp / "forever", "linear.py", "def predict(W, X):\n    while True:\n        pass\n"))
    paths.append(_with(tmp / "probe", "logistic.py", _probe(ports)))
    (tmp / "empty").mkdir()
    paths.append(tmp / "empty")
    return [str(p) for p in paths], ports


def _grade(paths, *, grader=None, on_report=None):
    salt, salt_id = secret.run_salt(SEED)
    opts = engine.Options(salt=salt, timeout=10)
    with engine.class_run("linear", paths, opts=opts, salt_id=salt_id) as run:
        return run.grade(jobs=2, grader=grader, on_report=on_report)


def _items(report):
    return report.error, [(i.id, i.status, i.score) for i in report.items]


def test_a_class_graded_on_the_cluster_with_a_worker_killed_is_the_class_graded_here(env, scheduler, mixed_class):
    paths, ports = mixed_class
    local = _grade(paths)
    killed = []

    def kill_a_busy_worker(k, report, so_far):  # at the first result: another worker is grading
        if killed:
            return
        client = grader.client
        busy = {w: keys for w, keys in client.processing().items() if keys}
        if busy:
            worker, keys = sorted(busy.items())[0]
            os.kill(client.run(os.getpid, workers=[worker])[worker], signal.SIGKILL)
            killed.append((worker, keys))

    with cluster.connect(scheduler, seed=SEED) as grader:
        remote = _grade(paths, grader=grader, on_report=kill_a_busy_worker)
    assert killed, "no worker was busy when the first submission finished"
    assert [r.submission for r in remote] == paths
    for here, there in zip(local, remote):
        assert _items(there) == _items(here), here.submission
    by_name = {Path(r.submission).name: r for r in remote}
    assert all(i.status == "passed" for i in by_name["key"].items)
    assert by_name["forever"].items[[i.id for i in by_name["forever"].items].index("linear.predict")].status == "timeout"
    assert by_name["empty"].error and not by_name["empty"].items[0].score


def test_student_code_cannot_reach_the_schedulers_or_the_workers_ports(env, scheduler, mixed_class):
    paths, ports = mixed_class
    with cluster.connect(scheduler, seed=SEED) as grader:
        probe = _grade([p for p in paths if p.endswith("probe")], grader=grader)[0]
    said = next(i for i in probe.items if i.id == "linear.logistic.sigmoid").output
    assert "REACHED:" not in said.replace("UNREACHABLE:", "")
    assert all(f"UNREACHABLE:{port}:" in said for port in ports), said


def test_workers_unlike_this_machine_are_refused_before_grading(env, scheduler, monkeypatch):
    monkeypatch.setattr(cluster, "fingerprint", lambda: "another-course")  # here only: workers run their own
    with pytest.raises(cluster.ClusterError, match=r"refusing to grade on this cluster: tcp://127\.0\.0\.1:\d+: "
                                                   r"another course version \(\w+, here another-course\) \(and 2 more\)"):
        cluster.connect(scheduler, seed=SEED)
    monkeypatch.undo()
    monkeypatch.setenv("DLGRADE_SECRET", "another secret of this course")
    with pytest.raises(cluster.ClusterError, match="another course secret"):
        cluster.connect(scheduler, seed=SEED)


def test_the_cli_grades_on_the_cluster_resumes_and_refuses_what_it_cannot_do(env, scheduler, mixed_class, tmp_path):
    key, stub = mixed_class[0][:2]
    out = tmp_path / "out"
    first = dlgrade("grade", "linear", key, stub, "--cluster", scheduler, "--seed", SEED, "-o", out, env=env)
    assert first.returncode == 0, first.stderr
    here = dlgrade("grade", "linear", key, stub, "--seed", SEED, "-o", tmp_path / "here", env=env)
    assert (out / "grades.csv").read_text() == (tmp_path / "here" / "grades.csv").read_text()
    assert sorted(p.name for p in (out / "key").glob("*.png")) == sorted(p.name for p in (tmp_path / "here" / "key").glob("*.png"))
    again = dlgrade("grade", "linear", key, stub, "--cluster", scheduler, "--seed", SEED, "-o", out, "--resume", env=env)
    assert "0 graded, 2 already done" in again.stderr
    for args, says in ((["--device", "cuda"], "started with GPU but --device cuda needs CuPy"),  # w0 has no GPU
                       (["--no-sandbox"], "--cluster always sandboxes"),
                       ([], "")):
        address = scheduler if says else "tcp://127.0.0.1:9"
        bad = dlgrade("grade", "linear", key, "--cluster", address, "--seed", SEED, *args, env=env)
        assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
        assert (says or "cannot reach a Dask scheduler") in bad.stderr


def test_tasks_that_need_a_gpu_run_only_on_the_worker_with_the_gpu_resource(env, scheduler, mixed_class, monkeypatch):
    """Where tasks go, on a CPU run: the items `needs_gpu` names (here, as if the run were on the
    device, every item but the trained ones) must run on the GPU=1 worker, the others anywhere."""
    from distributed import get_task_stream
    monkeypatch.setattr(cluster, "needs_gpu", lambda item, device: not item.id.endswith(".accuracy"))
    paths = mixed_class[0][:3]
    with cluster.connect(scheduler, seed=SEED) as grader:
        gpu_worker = next(w for w, info in grader.client.scheduler_info()["workers"].items()
                          if info.get("resources", {}).get(cluster.GPU))
        with get_task_stream(grader.client) as stream:
            reports = _grade(paths, grader=grader)
    ran = {t["key"]: t["worker"] for t in stream.data}
    on_gpu = {key: worker for key, worker in ran.items() if key.endswith("-1")}  # the second group: the GPU items
    assert len(on_gpu) == len(paths) and set(on_gpu.values()) == {gpu_worker}, ran
    assert _items(reports[0]) == _items(_grade(paths[:1])[0])


def test_gpu_items_go_only_to_workers_with_the_gpu_resource():
    items = engine.items("linear")
    trusted = [i for i in items if i.id.endswith(".accuracy")]
    assert not any(cluster.needs_gpu(i, "cpu") for i in items)
    assert [i for i in items if cluster.needs_gpu(i, "cuda")] == [i for i in items if i not in trusted]


def test_a_worker_result_that_is_not_a_result_costs_the_submission_not_the_run():
    items = engine.items("linear")[:2]
    for text in ("not json", json.dumps({"record": {}, "figures": []}),
                 json.dumps({"record": {"report": {"assignment": "linear", "submission": "s", "items": [
                     {"id": items[0].id, "score": 1e9, "max_score": items[0].points, "status": "passed",
                      "visibility": "public", "output": ""}]}}, "figures": []})):
        with pytest.raises(cluster.ClusterError):
            cluster.checked_items(text, items)
