"""How many submissions a minute? Grades a class of copies, with pre-started workers and without.

    python benchmarks/throughput.py [--copies 200] [--jobs 2] [--paths prestart,per-item] [--no-sandbox]

The class mixes answer keys, unfinished stubs and the planted-bug submissions of
`tests/submissions/mlp/bugs` (in that rotation). Each path grades the whole class with every
`mlp` item (the trained-accuracy item only where `DLGRADE_DATA` holds CIFAR-10) and prints
submissions per minute; then it grades 2 stubs alone, whose items all stop at once at
`NotImplementedError`, and prints that time per item: the per-item overhead of the path.
Paths: `prestart` (one pre-started worker per submission forks a child per item: the default)
and `per-item` (a fresh sandboxed process per item: the path before pre-started workers).
Both must give identical scores; the script checks it.
"""
import argparse
import importlib.util
import os
import tempfile
import time
from pathlib import Path

from grader import engine

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("harness", ROOT / "tests" / "submissions" / "harness.py")
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)


def make_class(root: Path, copies: int):
    bugs = harness.load("bugs", "mlp")
    folders = []
    for k in range(copies):
        dest = root / f"s{k:03d}"
        kind = k % 3
        if kind == 0:
            folders.append(harness.copy_solution(dest, "mlp"))
        elif kind == 1:
            dest.mkdir()
            for p in sorted((ROOT / "assignments" / "mlp").glob("*.py")):
                (dest / p.name).write_bytes(p.read_bytes())
            folders.append(dest)
        else:
            folders.append(harness.build(bugs[(k // 3) % len(bugs)], dest, "mlp"))
    return folders


def item_ids():
    data = os.environ.get("DLGRADE_DATA")
    has_cifar = bool(data) and Path(data, "cifar-10-python.tar.gz").is_file()
    return [i.id for i in engine.items("mlp") if has_cifar or i.id != "mlp.train.accuracy"]


def run(path, folders, jobs, only, sandbox):
    opts = engine.Options(prestart=(path == "prestart"), sandbox=sandbox)
    start = time.perf_counter()
    reports = engine.grade_many("mlp", folders, opts=opts, jobs=jobs, only=only)
    return time.perf_counter() - start, [(r.score, [(i.id, i.score, i.status) for i in r.items]) for r in reports]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--paths", default="prestart,per-item")
    parser.add_argument("--no-sandbox", action="store_true")
    args = parser.parse_args()
    only = item_ids()
    results = {}
    with tempfile.TemporaryDirectory(prefix="dlgrade-bench-") as tmp:
        folders = make_class(Path(tmp), args.copies)
        stubs = [f for k, f in enumerate(folders) if k % 3 == 1][:2]
        print(f"{args.copies} mlp submissions (answer keys, stubs, planted bugs), {len(only)} items each, "
              f"-j {args.jobs}, sandbox {'off' if args.no_sandbox else 'on'}")
        for path in args.paths.split(","):
            seconds, scores = run(path, folders, args.jobs, only, not args.no_sandbox)
            stub_seconds, _ = run(path, stubs, args.jobs, only, not args.no_sandbox)
            results[path] = scores
            per_item = stub_seconds * args.jobs / (len(stubs) * len(only))
            print(f"{path:>9}: {seconds:7.1f} s, {args.copies / seconds * 60:6.1f} submissions/min, "
                  f"per-item overhead {per_item * 1e3:5.0f} ms (stub items x jobs / wall)")
    paths = list(results)
    if len(paths) > 1:
        same = all(results[p] == results[paths[0]] for p in paths[1:])
        print("identical scores on every item: " + ("yes" if same else "NO"))
        if not same:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
