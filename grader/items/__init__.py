"""The graded items: the public API of a course's registry (`solutions/<a>/grading.py`).

A registry imports every name it needs from here, and from nowhere else in `grader`:

    from grader.items import FunctionItem, LayerItem, Mutant, randn

- protocols (`base`): `Item`, `ComparedItem` (compared with the reference in a worker),
  `TrustedItem` (evaluated from submitted weights in the trusted process), `Mutant` (a known bug);
- the item pipeline (`pipeline`): `CaseItem` (case families -> float32 copies -> calls ->
  perturbations; values -> gradient check -> dtypes -> purity), `Case`, `FunctionItem`,
  `VariantsItem`, `force_family`;
- item classes: `LayerItem`, `LossItem`, `BatchNormItem`, `StepItem` (`layers`); `OptimizerItem`,
  `InitItem`, `DropoutItem`, `SequentialItem`, `SamplerItem` (`behaviour`); `InitStudyItem`
  (`init_study`); `SpeedItem` (`speed`); `AccuracyItem`, `TextItem` (`trained`);
- case makers (`cases`): `randn`, `away_from_zero`, `as_float32`, `CASES`, `F32`, `LARGE_STEP`;
- verdicts (`verdicts`, `gradients`, `checks`): `pair`, `compare`, `dig`, `dtypes`, `label`,
  `per_call`, `purity_of`, `gradchecks`, `CheckResult`;
- what several courses share (`shared`): `MLP_LAYERS`, `CNN_LAYERS`, `as_pair`, `hp`, `given`;
- for a course's own trusted items: `Call` (a worker call), `Figure` (a feedback figure),
  `WeightsError` (a refused weights file), `load_cifar10`, `cifar10_classes`, `course_data` (data,
  read on use: `course_data("load_imdb")` is the course's loader of that name).

docs/authoring.md says how a course writes an item.
"""
from grader.items.base import TIMEOUT_FACTOR, ComparedItem, Item, Mutant, TrustedItem
from grader.items.behaviour import DropoutItem, InitItem, OptimizerItem, SamplerItem, SequentialItem
from grader.items.cases import CASES, F32, away_from_zero, as_float32, randn
from grader.items.checks import CheckResult
from grader.items.gradients import gradchecks
from grader.items.init_study import InitStudyItem
from grader.items.layers import LARGE_STEP, BatchNormItem, LayerItem, LossItem, StepItem
from grader.items.models import WeightsError
from grader.items.pipeline import Case, CaseItem, FunctionItem, VariantsItem, force_family
from grader.items.shared import CNN_LAYERS, MLP_LAYERS, as_pair, given, hp
from grader.items.speed import SpeedItem
from grader.items.trained import AccuracyItem, TextItem, cifar10_classes, course_data, load_cifar10
from grader.items.verdicts import compare, dig, dtypes, label, pair, per_call, purity_of
from grader.reports.figures import Figure
from grader.sandbox.calls import Call

__all__ = ["TIMEOUT_FACTOR", "ComparedItem", "Item", "Mutant", "TrustedItem",
           "DropoutItem", "InitItem", "OptimizerItem", "SamplerItem", "SequentialItem",
           "CASES", "F32", "away_from_zero", "as_float32", "randn", "CheckResult", "gradchecks", "InitStudyItem",
           "LARGE_STEP", "BatchNormItem", "LayerItem", "LossItem", "StepItem", "WeightsError",
           "Case", "CaseItem", "FunctionItem", "VariantsItem", "force_family",
           "CNN_LAYERS", "MLP_LAYERS", "as_pair", "given", "hp", "SpeedItem", "AccuracyItem", "TextItem",
           "cifar10_classes", "course_data", "load_cifar10",
           "compare", "dig", "dtypes", "label", "pair", "per_call", "purity_of", "Figure", "Call"]
