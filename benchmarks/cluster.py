"""Submissions per minute on a Dask cluster of 1, 2 and 4 workers, beside the local pool.

    python benchmarks/cluster.py [--copies 60] [--workers 1,2,4] [--jobs 2]

Grades the same class (answer keys, stubs and planted bugs of `mlp`, as
benchmarks/throughput.py builds it; every item but the trained accuracy) four ways, side by side
in one run: the local pre-started workers (`dlgrade grade -j JOBS`, the default), then on a
cluster started here with the standard commands (`dask scheduler`, and `dask worker --nthreads 1`
per worker, on loopback). Prints each way's wall time, submissions per minute and CPU seconds
per submission (the grader's processes and every sandboxed worker below them), and checks that
every way gives the same score on every item. The per-submission CPU cost is what sizes a
cluster: N submissions in T minutes need about N x cost / (60 T) cores.
"""
import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader import engine, secret
from grader.engine import cluster

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import make_class  # noqa: E402

SEED = "benchmark"


def cpu_seconds() -> float:
    """CPU time of this process and of every child it has waited for (the dask processes are
    waited for when stopped, so a cluster's time counts once it is stopped)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def grade(folders, only, *, jobs=2, grader=None):
    salt, salt_id = secret.run_salt(SEED)
    with engine.class_run("mlp", folders, opts=engine.Options(salt=salt), only=only, salt_id=salt_id) as run:
        start = time.perf_counter()
        reports = run.grade(jobs=jobs, grader=grader)
        return time.perf_counter() - start, [(r.error, [(i.id, i.score, i.status) for i in r.items]) for r in reports]


def start_cluster(workers: int, tmp: Path):
    dask = str(Path(sys.executable).with_name("dask"))
    log = open(tmp / f"cluster-{workers}.log", "w")
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(tmp / f"s{workers}.json")], stdout=log, stderr=log,
                              start_new_session=True)]
    while not (tmp / f"s{workers}.json").is_file():
        time.sleep(0.1)
    address = json.loads((tmp / f"s{workers}.json").read_text())["address"]
    procs += [subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard"],
                               stdout=log, stderr=log, start_new_session=True) for _ in range(workers)]
    from distributed import Client
    with Client(address, timeout="60s") as client:
        client.wait_for_workers(workers, timeout=300)
    return address, procs


def stop(procs):
    for p in procs:
        os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--copies", type=int, default=60)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    only = [i.id for i in engine.items("mlp") if i.id != "mlp.train.accuracy"]
    print(f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; {args.copies} mlp submissions, {len(only)} items each")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folders = make_class(tmp / "class", args.copies)
        cpu = cpu_seconds()
        wall, local = grade(folders, only, jobs=args.jobs)
        rows.append((f"local pool, -j {args.jobs}", wall, cpu_seconds() - cpu))
        for n in [int(w) for w in args.workers.split(",")]:
            cpu = cpu_seconds()
            address, procs = start_cluster(n, tmp)
            try:
                with cluster.connect(address, seed=SEED) as grader:
                    wall, there = grade(folders, only, grader=grader)
            finally:
                stop(procs)
            rows.append((f"Dask, {n} worker{'s' * (n > 1)}", wall, cpu_seconds() - cpu))
            assert there == local, f"{n} workers: the scores differ from the local run's"
    print(f"{'':22} {'wall s':>8} {'subs/min':>9} {'CPU s/sub':>10}")
    for name, wall, cpu in rows:
        print(f"{name:22} {wall:8.1f} {60 * args.copies / wall:9.1f} {cpu / args.copies:10.2f}")
    print("every way gave the same score on every item")


if __name__ == "__main__":
    main()
