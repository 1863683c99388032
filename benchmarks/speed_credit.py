"""How reliably do the Conv2d speed items give their verdict on a busy machine?

    python benchmarks/speed_credit.py [--runs 20] [--submission add_at_dx] [--no-burner]

Grades the `cnn` assignment's two speed items (`cnn.conv.speed.forward`, `.backward`) `runs`
times in a row (one item at a time, each in its own worker, as `dlgrade grade` does) while a
background process keeps one core busy: a `while True` loop started here with multiprocessing
and terminated at the end (`--no-burner` leaves it out). Prints, per grading, each item's ratio
(the ratio of medians, or `probe Nx` when the small probe input stopped the timing early, or
`wrong` when the result on the timed input was wrong) and credit; then, per item, "full credit
in K of N gradings", the median ratio and the spread of the credits.

`--submission`: the answer key (default), a submission folder, or the name of a speed
submission in tests/submissions/cnn/speed/ (`add_at_dx`, `pixel_loops`, `naive_loops`), built
onto the answer key as the tests build it.
"""
import argparse
import importlib.util
import multiprocessing
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader import api  # noqa: E402

ASSIGNMENT = "cnn"


def _harness():
    spec = importlib.util.spec_from_file_location("submissions_harness", ROOT / "tests" / "submissions" / "harness.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _burn():
    while True:
        pass


def submission_folder(name, tmp):
    """A folder to grade: the answer key, a given folder, or a speed snippet built onto the key."""
    harness = _harness()
    if name is None:
        return harness.copy_solution(Path(tmp) / "answer_key", ASSIGNMENT), "the answer key"
    if Path(name).is_dir():
        return Path(name), name
    found = [s for s in harness.load("speed", ASSIGNMENT) if s.name == name]
    if not found:
        names = ", ".join(s.name for s in harness.load("speed", ASSIGNMENT))
        raise SystemExit(f"{name}: not a folder nor a speed submission ({names})")
    return harness.build(found[0], Path(tmp) / name, ASSIGNMENT), f"{name} ({found[0].doc})"


def verdict(result):
    """(ratio or None, short text) from a speed item's result."""
    out = result.output
    m = re.search(r"ratio ([0-9.]+)", out)
    if m:
        return float(m.group(1)), f"{float(m.group(1)):6.2f}"
    m = re.search(r"about ([0-9]+)x slower than the reference on a small probe", out)
    if m:
        return None, f"probe {m.group(1)}x"
    if "wrong result" in out:
        return None, "wrong"
    return None, result.status


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--submission", default=None, help="folder, or a name from tests/submissions/cnn/speed/")
    ap.add_argument("--no-burner", action="store_true", help="do not keep a core busy")
    args = ap.parse_args()
    harness = _harness()
    ids = harness.timing_items(ASSIGNMENT)
    with tempfile.TemporaryDirectory() as tmp:
        folder, what = submission_folder(args.submission, tmp)
        burner = None
        if not args.no_burner:
            burner = multiprocessing.Process(target=_burn, daemon=True)
            burner.start()
        try:
            print(f"grading {what}: {', '.join(ids)}, {args.runs} times; {os.cpu_count()} cores, "
                  f"load average {os.getloadavg()[0]:.2f}, "
                  + (f"burner pid {burner.pid} keeps one core busy" if burner else "no burner"))
            short = [i.rsplit(".", 1)[-1] for i in ids]
            print("run  " + "  ".join(f"{s + ' ratio':>15} {'credit':>6}" for s in short))
            rows, start = [], time.monotonic()
            for run in range(1, args.runs + 1):
                report = api.grade_many(ASSIGNMENT, [folder], jobs=1, only=ids)[0]
                row = {i.id: (*verdict(i), i.score / i.max_score) for i in report.items}
                rows.append(row)
                print(f"{run:3d}  " + "  ".join(f"{row[i][1]:>15} {row[i][2]:6.3f}" for i in ids), flush=True)
            seconds = time.monotonic() - start
        finally:
            if burner is not None:
                burner.terminate()
                burner.join()
    print(f"{args.runs} gradings in {seconds:.0f} s")
    for item_id in ids:
        credits = [r[item_id][2] for r in rows]
        ratios = [r[item_id][0] for r in rows if r[item_id][0] is not None]
        others = [r[item_id][1] for r in rows if r[item_id][0] is None]
        full = sum(c >= 1.0 for c in credits)
        line = f"{item_id}: full credit in {full} of {len(rows)} gradings"
        line += f"; median ratio {statistics.median(ratios):.2f}" if ratios else "; no timed ratio"
        if ratios:
            line += f" (min {min(ratios):.2f}, max {max(ratios):.2f}, over {len(ratios)} timed gradings)"
        if others:
            line += f"; without a ratio: {', '.join(others)}"
        line += f"; credit min {min(credits):.3f}, median {statistics.median(credits):.3f}, max {max(credits):.3f}"
        print(line)


if __name__ == "__main__":
    main()
