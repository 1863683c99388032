"""The item pipeline, written once: case families -> float32 copies -> calls -> perturbation calls,
then values -> numerical gradient check -> dtypes -> purity (the last two gated).

`CaseItem` runs it; an item class declares its families (`families`), how a case becomes a call
(`call`), what a gradient check moves (`perturbed`), its value checks (`values`) and where its
gradients are (`gradient`). `FunctionItem`, the general form for a plain function, is the example.
"""
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from grader.items import checks as C
from grader.items.base import ComparedItem
from grader.items.cases import F32, Case, as_float32, float32_copies, opts_for, perturbation
from grader.items.gradients import gradchecks
from grader.items.verdicts import compare, dig, dtypes, pair, per_call, purity_of
from grader.sandbox.calls import Call

__all__ = ["Case", "CaseItem", "FunctionItem", "VariantsItem", "force_family"]


@dataclass(frozen=True)
class CaseItem(ComparedItem):
    """An item on named case families, against the reference.

    Calls: `families(rng)` (in draw order), a float32 copy of each float64 family (unless
    `float64_only`), one `driver` call per case (`call`), then one `<driver>_perturbed` call per
    float64 case with a gradient check (`perturbed`). Checks: `values(...)`, the numerical gradient
    check when `gradient(...)` says where the gradients are, "float32 in, float32 out" over
    `dtype_pairs(...)`, and purity; the last two are gated.
    """
    name: str = ""
    float64_only: bool = False
    driver: ClassVar[str] = "function"
    dtype_check: ClassVar[str] = "float32 in, float32 out"

    # ------------------------------------------------------------------ calls
    def families(self, rng) -> list:
        """[`Case`]: the float64 families (and any float32 family of its own), in draw order."""
        raise NotImplementedError

    def all_cases(self, rng) -> list:
        cases = self.families(rng)
        return cases if self.float64_only else float32_copies(cases)

    def call(self, case, rng):
        """The worker call of one case (it may draw more inputs from `rng`: an upstream gradient)."""
        spec = {"module": self.module, "name": self.name, **case.spec, "tag": case.tag}
        if "seed" in spec:  # after the tag, where the worker's spec has always had it
            spec["seed"] = spec.pop("seed")
        return Call(self.driver, spec, case.inputs)

    def perturbed(self, call):
        """(spec, inputs, wrt) of the gradient check of case `call`."""
        raise NotImplementedError

    def calls(self, rng):
        cases = self.all_cases(rng)
        calls = [self.call(case, rng) for case in cases]
        for i, case in enumerate(cases):
            if case.gradcheck and case.float64:
                spec, inputs, wrt = self.perturbed(calls[i])
                calls.append(perturbation(self.driver + "_perturbed", spec, inputs, wrt, rng, i))
        return calls

    # ------------------------------------------------------------------ evaluation
    def scaled_families(self) -> set:
        """Tags of families (inputs x1000) whose float32 copy only has to be finite."""
        return set()

    def pairs(self, calls, got, expected, alternatives, cases, outputs):
        """`pair`s of every case (outer) and output (inner): `outputs` [(name, path)]; an output that
        is a dict gives one pair per entry, named `name[key]`."""
        scaled, out = self.scaled_families(), []
        for i in cases:
            tag = calls[i].spec["tag"]
            for name, path in outputs:
                exp = dig(expected[i], path)
                keys = [(f"{name}[{k!r}]", path + (k,)) for k in exp] if isinstance(exp, dict) else [(name, path)]
                out += [pair(f"{shown} [{self.where(tag, where)}]", got[i], expected[i], per_call(alternatives, i),
                             path=where, **opts_for(tag, scaled)) for shown, where in keys]
        return out

    def where(self, tag, path):
        """What a message names in brackets after an output: the case's tag."""
        return tag

    def values(self, calls, got, expected, alternatives, cases) -> list:
        raise NotImplementedError

    def gradient(self, calls, got):
        """(upstream(i), analytic(i)) for `gradchecks`, or None: no gradient check."""
        return None

    def dtype_pairs(self, calls, got, expected, alternatives, cases) -> list:
        raise NotImplementedError

    def evaluate(self, calls, got, expected, alternatives):
        cases = [i for i, c in enumerate(calls) if c.driver == self.driver]
        results = list(self.values(calls, got, expected, alternatives, cases))
        gradient = self.gradient(calls, got)
        if gradient is not None:
            results.append(gradchecks(calls, got, *gradient))
        results.append(dtypes(self.dtype_check, self.dtype_pairs(calls, got, expected, alternatives, cases)))
        results.append(C.gated(purity_of(calls, got, cases)))
        return results


@dataclass(frozen=True)
class FunctionItem(CaseItem):
    """A plain function on named case families, against the reference.

    `cases`: (tag, make, dtype, gradcheck) with `make(rng, dtype) -> (args: dict, kwargs)`; every
    float64 family also runs as a float32 copy (tag `..., float32`), except in `float64_only`
    items. `outputs` names the function's outputs (one name per element of a tuple result). A family
    with `gradcheck` gets a numerical gradient check of the first output with respect to each input
    in `wrt` (a key path, "params/W"), compared with the output `grads` names at the same place
    (`"name"`, or `"name/key"` for an entry of a dict output). `scaled`: tags of families (inputs
    x1000) whose float32 copy only has to be finite. `seeded`: the call gets `rng`, a generator
    seeded by the case. `note`: said when a value check fails (unless a known bug is named).
    Each output has its own value check, so a right loss with a wrong gradient earns part;
    `one_check` makes it one check, "matches the reference", over every output.
    """
    cases: tuple = ()
    outputs: tuple = ("out",)
    wrt: tuple = ()
    grads: tuple = ()
    scaled: tuple = ()
    seeded: bool = False
    note: str = ""
    one_check: bool = False

    def families(self, rng):
        out = []
        for tag, make, dtype, check in self.cases:
            args, kwargs = make(rng, dtype)
            spec = {"args": list(args), "kwargs": kwargs}
            if self.seeded:
                spec["seed"] = int(rng.integers(1 << 30))
            out.append(Case(tag, args, spec, dtype == np.float64, bool(check and self.wrt)))
        return out

    def perturbed(self, call):
        return {k: v for k, v in call.spec.items() if k != "tag"}, call.inputs, list(self.wrt)

    def paths(self):
        """[(name, path)] of the outputs in what the worker returns."""
        if len(self.outputs) == 1:
            return [(self.outputs[0], ("out",))]
        return [(name, ("out", str(i))) for i, name in enumerate(self.outputs)]

    def scaled_families(self):
        return set(self.scaled)

    def values(self, calls, got, expected, alternatives, cases):
        if self.one_check:
            return [compare("matches the reference", self.pairs(calls, got, expected, alternatives, cases,
                                                                 self.paths()))]
        results = []
        for name, path in self.paths():
            result = compare(f"{name} matches the reference",
                             self.pairs(calls, got, expected, alternatives, cases, [(name, path)]))
            if not result.passed and self.note and "likely bug:" not in result.message:
                result = C.noted(result, f"({self.note})")
            results.append(result)
        return results

    def gradient(self, calls, got):
        if not self.wrt or not any(check and dtype == np.float64 for _, _, dtype, check in self.cases):
            return None
        paths = dict(self.paths())
        where = {}
        for key, grad in zip(self.wrt, self.grads):
            name, _, entry = grad.partition("/")
            where[key] = paths[name] + ((entry,) if entry else ())
        return lambda i: np.ones(()), lambda i: {k: dig(got[i], where[k]) for k in self.wrt}

    def dtype_pairs(self, calls, got, expected, alternatives, cases):
        return self.pairs(calls, got, expected, alternatives, cases, self.paths())


@dataclass(frozen=True)
class VariantsItem:
    """Mixin (first base, before an item class): the item's cases once for its own fields, then once
    more for each `variants` entry (tag suffix, {field: value}): another hyperparameter value (eps,
    weight_decay, margin, the defaults), each case tagged ``<tag>, <suffix>``."""
    variants: tuple = ()

    def calls(self, rng):
        calls = list(super().calls(rng))
        for suffix, fields in self.variants:
            more = super(VariantsItem, replace(self, variants=(), **fields)).calls(rng)
            offset = len(calls)
            for c in more:
                if "tag" in c.spec:
                    c.spec["tag"] = f"{c.spec['tag']}, {suffix}"
                if c.driver.endswith("_perturbed"):
                    c.spec["case"] += offset
            calls += more
        return calls


def force_family(calls, driver, tag, update):
    """Rebuild the inputs of family `tag` after the calls are made: `update(inputs)` -> {key: new
    value} for its `driver` call; its float32 copy and its gradient check's call follow, so the
    numerical condition the family stands for holds in all three."""
    index = {c.spec.get("tag"): i for i, c in enumerate(calls) if c.driver == driver}
    i = index[tag]
    new = update(calls[i].inputs)
    calls[i].inputs.update(new)
    if tag + F32 in index:
        calls[index[tag + F32]].inputs.update(as_float32(new))
    for c in calls:
        if c.driver.endswith("_perturbed") and c.spec.get("case") == i:
            c.inputs.update(new)
    return calls
