"""No verdict changes with the seed: the answer key and every planted bug get the same score on
every item whatever salt draws the cases.

CI grades each planted bug's affected items (and the answer key's every item) under a few salts;
`python benchmarks/seed_invariance.py --seeds 20` does 20, over every item that imports the
changed file.
"""
import importlib.util
import os
from pathlib import Path

import pytest

from grader import engine

_spec = importlib.util.spec_from_file_location(
    "submissions_harness", Path(__file__).resolve().parents[1] / "submissions" / "harness.py")
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

SEEDS = int(os.environ.get("DLGRADE_TEST_SEEDS", "3"))


@pytest.mark.slow
@pytest.mark.parametrize("assignment", engine.assignments())
def test_scores_do_not_depend_on_the_seed(assignment, tmp_path):
    scores = harness.seed_scores(assignment, tmp_path, [f"seed-{k}" for k in range(SEEDS)])
    assert any(name == "__solution__" for name, _ in scores)
    changed = harness.seed_dependent(scores)
    assert not changed, "scores that change with the seed:\n" + "\n".join(
        f"{name} {item}: {values}" for (name, item), values in sorted(changed.items()))
