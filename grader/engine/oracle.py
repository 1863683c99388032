"""The reference oracle: expected values from `reference/` (the instructor's side).

The only engine module that imports `reference`; `dlgrade check` and `submit` never load it
(they read the public cases stored in a released kit: `grader.engine.public`).
"""
import copy
import importlib
import pkgutil
import threading
import time

from grader import course
from grader.engine.registry import item_rng
from grader.sandbox import wire
from grader.sandbox.drivers import DRIVERS

NO_EXPECTED = {"layer_perturbed", "loss_perturbed", "speed"}  # student-only calls: no reference output
REFERENCE_SECONDS = {}  # item id -> the longest the reference took on one draw of its cases, this process
_CASES, _CASES_LOCK = {}, threading.Lock()  # (item, salt) -> its cases and expected values


class Oracle:
    """Where `dlgrade grade` takes expected values from: the reference, on cases drawn per
    submission (`per_submission`), for every item; a compared item's time limit is a factor of
    the reference's own time (`compared`'s last value); a trusted item's model is evaluated by the
    reference in this process; a missing dataset stops the run (the grader's environment)."""
    per_submission = True
    missing_data_fails_item = False

    def covers(self, item) -> bool:
        return True

    def compared(self, item, salt):
        """(calls, expected, alternatives, reference seconds) of an item drawn with `salt`."""
        calls, expected, alternatives = reference_cases(item, salt)
        return calls, expected, alternatives, REFERENCE_SECONDS.get(item.id, 0.0)

    def trusted_outputs(self, calls, in_worker):
        """A trusted item's driver outputs: the reference's, here (`in_worker` is not used)."""
        return run_reference(calls, reference_resolve())


def reference_resolve(replace=None):
    """`resolve(module, name)` over the reference package, with some classes replaced."""
    import reference.init
    import reference.layers
    import reference.losses
    import reference.optim
    modules = [reference.layers, reference.losses, reference.optim, reference.init]
    for info in pkgutil.iter_modules(reference.__path__):  # every other module of reference/, in name order
        if info.name != "backend" and not info.name.startswith("_"):
            module = importlib.import_module(f"reference.{info.name}")
            if module not in modules:
                modules.append(module)
    replace = replace or {}

    def resolve(module, name):
        if name in replace:
            return replace[name]
        for m in modules:
            if hasattr(m, name):
                return getattr(m, name)
        raise AttributeError(f"reference has no {name}")
    return resolve


def normalize(tree):
    """Driver outputs as the worker sends them: nested dicts with string keys, NumPy arrays."""
    return wire.unflatten({k: wire.to_numpy(v) for k, v in wire.flatten(tree).items() if v is not None})


def run_reference(calls, resolve, *, strict=True):
    """Driver outputs on the reference, per call; `None` for perturbation calls (and, when not
    `strict`, for calls where a known-bug variant raises)."""
    out = []
    for c in calls:
        if c.driver in NO_EXPECTED:
            out.append(None)
            continue
        try:
            out.append(normalize(DRIVERS[c.driver](resolve, c.spec, normalize(c.inputs))))
        except Exception:
            if strict:
                raise
            out.append(None)
    return out


def load_mutant(path: str):
    """A known-bug variant: `"module:Name"` or `"solutions/<a>/mutants.py:Name"` (course file)."""
    return course.load_object(path)


def expected_from_reference(item, calls):
    """Reference outputs and, per known bug of the item, what that bug would output."""
    if not item.needs_reference:
        return [None] * len(calls), []
    expected = run_reference(calls, reference_resolve())
    alternatives = []
    for mutant in item.mutants:
        replace = {k: load_mutant(v) for k, v in mutant.replace.items()}
        alternatives.append((mutant.hint, run_reference(calls, reference_resolve(replace), strict=False)))
    return expected, alternatives


def reference_cases(item, salt):
    """An item's cases and the reference's outputs on them: the same for every submission
    graded with `salt`, so computed once per process (each caller gets its own copy)."""
    key = (id(item), item.id, salt)
    with _CASES_LOCK:
        found = _CASES.get(key)
    if found is None:
        calls = item.calls(item_rng(item.id, salt))
        start = time.perf_counter()
        found = (calls, *expected_from_reference(item, calls))
        seconds = time.perf_counter() - start if item.needs_reference else 0.0
        with _CASES_LOCK:
            REFERENCE_SECONDS[item.id] = max(REFERENCE_SECONDS.get(item.id, 0.0), seconds)
            if len(_CASES) >= 512:
                _CASES.clear()
            _CASES[key] = found
    return copy.deepcopy(found)

