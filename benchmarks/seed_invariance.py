"""Grade the answer keys and every planted bug under many salts; print the items whose score
changes with the salt (there must be none).

    python benchmarks/seed_invariance.py --seeds 20 [--scope dependent|affected] [linear mlp cnn rnn]
"""
import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
_spec = importlib.util.spec_from_file_location("harness", ROOT / "tests" / "submissions" / "harness.py")
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*", default=["linear", "mlp", "cnn", "rnn"])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--scope", choices=("dependent", "affected"), default="dependent")
    args = parser.parse_args()
    bad = 0
    for assignment in args.assignments:
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            scores = harness.seed_scores(assignment, tmp, [f"seed-{k}" for k in range(args.seeds)], scope=args.scope)
        changed = harness.seed_dependent(scores)
        bad += len(changed)
        subs = {name for name, _ in scores}
        print(f"{assignment}: {len(subs)} submissions, {len(scores)} (submission, item) pairs, {args.seeds} seeds, "
              f"{len(changed)} seed-dependent, {time.perf_counter() - start:.0f} s")
        for (name, item), values in sorted(changed.items()):
            print(f"  {name} {item}: {values}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
