"""How long does grading one submission take? Prints the median wall time of full gradings.

    python benchmarks/grading.py [ASSIGNMENT] [SUBMISSION] [--repeats 3] [--jobs 2]

Grades the submission (default: the answer key) `repeats` times with every item, the way
`dlgrade grade` does, and prints each run and the median.
"""
import argparse
import statistics
import time
from pathlib import Path

from grader import engine


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignment", nargs="?", default="mlp")
    parser.add_argument("submission", nargs="?")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    submission = Path(args.submission or Path("solutions", args.assignment))
    times = []

    for run in range(args.repeats):
        start = time.perf_counter()
        report = engine.grade(args.assignment, submission, jobs=args.jobs)
        times.append(time.perf_counter() - start)
        print(f"run {run + 1}: {times[-1]:.1f} s, score {report.score:g}/{report.max_score:g}, "
              f"{len(report.items)} items, {args.jobs} jobs")
    print(f"median: {statistics.median(times):.1f} s over {args.repeats} runs "
          f"(min {min(times):.1f}, max {max(times):.1f})")


if __name__ == "__main__":
    main()
