"""The graded items: the public API of a course's registry (`solutions/<a>/grading.py`).

A registry imports every name it needs from here, and from nowhere else in `grader`:

    from grader.items import ComparedItem, FunctionItem, LayerItem, Mutant, randn

See docs/authoring.md for the protocols (`Item`, `ComparedItem`, `TrustedItem`) and how a course
writes an item.
"""
from grader.items.base import TIMEOUT_FACTOR, ComparedItem, Item, Mutant, TrustedItem
from grader.items.checks import CheckResult
from grader.items.core import (CASES, F32, LARGE_STEP, AccuracyItem, BatchNormItem, DropoutItem, FunctionItem,
                               InitItem, InitStudyItem, LayerItem, LossItem, OptimizerItem, SamplerItem,
                               SequentialItem, SpeedItem, StepItem, TextItem, as_float32, away_from_zero, compare,
                               dig, dtypes, gradchecks, opts_for, pair, per_call, perturbation, purity_of, randn)

__all__ = ["TIMEOUT_FACTOR", "ComparedItem", "Item", "Mutant", "TrustedItem", "CheckResult",
           "CASES", "F32", "LARGE_STEP", "AccuracyItem", "BatchNormItem", "DropoutItem", "FunctionItem",
           "InitItem", "InitStudyItem", "LayerItem", "LossItem", "OptimizerItem", "SamplerItem",
           "SequentialItem", "SpeedItem", "StepItem", "TextItem", "as_float32", "away_from_zero", "compare",
           "dig", "dtypes", "gradchecks", "opts_for", "pair", "per_call", "perturbation", "purity_of", "randn"]
