"""The item pipeline (`grader.items.pipeline`), on tiny hand-made items: case families -> float32
copies -> calls -> perturbation calls, then values -> gradient check -> dtypes -> purity.

The worker's drivers run here in-process on small functions of this file (no sandbox: nothing
untrusted runs), once as "the reference" and once as "the student", so each test shows both
sides: the right function passes every check, a broken one loses exactly the check named.
"""
import copy
from dataclasses import dataclass

import numpy as np
import pytest

from grader.items import (F32, Case, CaseItem, ComparedItem, FunctionItem, Item, Mutant, TrustedItem, VariantsItem,
                          force_family, randn)
from grader.items.cases import MAX_PERTURBED
from grader.sandbox import wire
from grader.sandbox.drivers import DRIVERS

VALUES = ["loss matches the reference", "dW matches the reference"]
TAIL = ["numerical gradient check (float64)", "float32 in, float32 out", "does not modify its inputs"]


# --------------------------------------------------------------------------- the functions graded
def loss(W, X):
    """0.5 mean over rows of |X W|^2, and its gradient."""
    s = X @ W
    return 0.5 * (s * s).sum() / len(X), X.T @ s / len(X)


def loss_dW_doubled(W, X):
    value, dW = loss(W, X)
    return value, 2 * dW


def loss_promotes(W, X):
    value, dW = loss(W.astype(np.float64), X.astype(np.float64))
    return value, dW


def loss_writes_input(W, X):
    out = loss(W, X)
    X[0, 0] = 123.0
    return out


def loss_scaled(W, X):  # the bug a known-bug hint names
    value, dW = loss(W, X)
    return value, 3 * dW


def make(rng, dtype):
    return {"W": randn(rng, (4, 3), dtype), "X": randn(rng, (5, 4), dtype)}, {}


def make_one(rng, dtype):
    return {"W": randn(rng, (3, 2), dtype), "X": randn(rng, (1, 3), dtype)}, {}


ITEM = FunctionItem("toy.loss", 4, name="loss", module="toy", outputs=("loss", "dW"), wrt=("W",), grads=("dW",),
                    cases=(("random", make, np.float64, True), ("batch of 1", make_one, np.float64, True),
                           ("float32", make, np.float32, False)))


def normalize(tree):
    return wire.unflatten({k: wire.to_numpy(v) for k, v in wire.flatten(tree).items() if v is not None})


def run(calls, fn):
    """Driver outputs of `fn` (as `loss`) on every call, as a worker sends them."""
    resolve = lambda module, name: fn  # noqa: E731
    return [normalize(DRIVERS[c.driver](resolve, c.spec, normalize(copy.deepcopy(c.inputs)))) for c in calls]


def grade(item, student, reference=loss, alternatives=()):
    calls = item.calls(np.random.default_rng(0))
    expected = [None if c.driver.endswith("_perturbed") else e for c, e in zip(calls, run(calls, reference))]
    alts = [(hint, [None if c.driver.endswith("_perturbed") else e for c, e in zip(calls, run(calls, bug))])
            for hint, bug in alternatives]
    return item.evaluate(calls, run(calls, student), expected, alts)


def lost(results):
    return [r.name for r in results if not r.passed]


# --------------------------------------------------------------------------- calls
def test_families_then_float32_copies_then_perturbations():
    calls = ITEM.calls(np.random.default_rng(0))
    assert [(c.driver, c.spec.get("tag")) for c in calls] == [
        ("function", "random"), ("function", "batch of 1"), ("function", "float32"),
        ("function", "random" + F32), ("function", "batch of 1" + F32),
        ("function_perturbed", None), ("function_perturbed", None)]
    for case, copy_ in ((0, 3), (1, 4)):  # a float32 copy holds its float64 case's values
        for key in ("W", "X"):
            assert calls[copy_].inputs[key].dtype == np.float32
            np.testing.assert_allclose(calls[copy_].inputs[key], calls[case].inputs[key], rtol=1e-6)
    assert calls[2].inputs["W"].dtype == np.float32  # a float32 family of its own: no copy, no gradient check
    assert [c.spec["case"] for c in calls[5:]] == [0, 1]
    assert calls[5].spec["wrt"] == ["W"] and calls[5].inputs is calls[0].inputs
    assert calls[5].spec["index"]["W"] == list(range(12))  # a small array: every element moved


def test_a_large_array_moves_at_most_max_perturbed_elements():
    item = FunctionItem("toy.loss", 1, name="loss", module="toy", outputs=("loss", "dW"), wrt=("W",), grads=("dW",),
                        cases=(("big", lambda rng, dtype: ({"W": randn(rng, (10, 10), dtype),
                                                             "X": randn(rng, (2, 10), dtype)}, {}), np.float64, True),))
    index = item.calls(np.random.default_rng(0))[-1].spec["index"]["W"]
    assert len(index) == MAX_PERTURBED and index == sorted(set(index)) and max(index) < 100


def test_float64_only_makes_no_copies_and_the_draws_follow_the_seed():
    item = FunctionItem("toy.loss", 1, name="loss", module="toy", outputs=("loss", "dW"), float64_only=True,
                        cases=ITEM.cases)
    tags = [c.spec["tag"] for c in item.calls(np.random.default_rng(0))]
    assert tags == ["random", "batch of 1", "float32"]
    a, b = (ITEM.calls(np.random.default_rng(s))[0].inputs["W"] for s in (1, 1))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, ITEM.calls(np.random.default_rng(2))[0].inputs["W"])


# --------------------------------------------------------------------------- evaluation
def test_the_right_function_passes_every_check():
    results = grade(ITEM, loss)
    assert [r.name for r in results] == VALUES + TAIL
    assert lost(results) == []


@pytest.mark.parametrize("student, check", [
    (loss_dW_doubled, ["dW matches the reference", "numerical gradient check (float64)"]),
    (loss_promotes, ["float32 in, float32 out"]),
    (loss_writes_input, ["does not modify its inputs"]),
], ids=["wrong-gradient", "float64-promotion", "writes-into-input"])
def test_a_broken_function_loses_exactly_its_check(student, check):
    results = grade(ITEM, student)
    assert lost(results) == check
    assert {r.name for r in results if r.gated} == set(TAIL)


def test_value_messages_name_output_and_case_and_a_known_bug():
    plain = {r.name: r.message for r in grade(ITEM, loss_scaled)}["dW matches the reference"]
    assert plain.startswith("dW [random]") and "likely bug" not in plain
    named = {r.name: r.message for r in grade(ITEM, loss_scaled, alternatives=[("dW is scaled by 3", loss_scaled)])}
    assert named["dW matches the reference"].endswith("likely bug: dW is scaled by 3")


def test_one_check_over_every_output():
    item = FunctionItem("toy.loss", 1, name="loss", module="toy", outputs=("loss", "dW"), cases=ITEM.cases,
                        one_check=True)
    assert [r.name for r in grade(item, loss)] == ["matches the reference"] + TAIL[1:]
    assert lost(grade(item, loss_dW_doubled)) == ["matches the reference"]


def test_a_note_is_added_to_a_failed_value_check():
    item = FunctionItem("toy.loss", 1, name="loss", module="toy", outputs=("loss", "dW"), cases=ITEM.cases,
                        note="fix loss first")
    assert {r.name: r.message for r in grade(item, loss_dW_doubled)}["dW matches the reference"].endswith(
        "(fix loss first)")
    assert all("fix loss first" not in r.message for r in grade(item, loss))


# --------------------------------------------------------------------------- building on the pipeline
@dataclass(frozen=True)
class Squares(CaseItem):
    """A hand-made item class on the pipeline: one family, y = x * x, a gradient check on x."""
    module: str = "toy"

    def families(self, rng):
        return [Case("random", {"x": randn(rng, (3,))}, {"args": ["x"], "kwargs": {}}, True, True)]

    def perturbed(self, call):
        return {k: v for k, v in call.spec.items() if k != "tag"}, call.inputs, ["x"]

    def values(self, calls, got, expected, alternatives, cases):
        from grader.items import compare
        return [compare("y matches", self.pairs(calls, got, expected, alternatives, cases, [("y", ("out", "0"))]))]

    def gradient(self, calls, got):
        return lambda i: np.ones(3), lambda i: {"x": got[i]["out"]["1"]}

    def dtype_pairs(self, calls, got, expected, alternatives, cases):
        return self.pairs(calls, got, expected, alternatives, cases, [("y", ("out", "0"))])


def test_an_item_class_of_ones_own_gets_the_whole_tail():
    item = Squares("toy.squares", 1, name="squares")
    right = grade(item, lambda x: (x * x, 2 * x), reference=lambda x: (x * x, 2 * x))
    assert [r.name for r in right] == ["y matches"] + TAIL and lost(right) == []
    wrong_gradient = grade(item, lambda x: (x * x, x), reference=lambda x: (x * x, 2 * x))
    assert lost(wrong_gradient) == ["numerical gradient check (float64)"]
    assert isinstance(item, ComparedItem) and not isinstance(item, TrustedItem) and isinstance(item, Item)


@dataclass(frozen=True)
class ToyVariants(VariantsItem, FunctionItem):
    pass


def test_variants_run_the_cases_again_with_their_own_gradient_checks():
    item = ToyVariants("toy.loss", 1, name="loss", module="toy", outputs=("loss", "dW"), wrt=("W",), grads=("dW",),
                       cases=ITEM.cases[:1], variants=(("kwargs given", {}),))
    calls = item.calls(np.random.default_rng(0))
    assert [c.spec.get("tag") for c in calls] == ["random", "random" + F32, None,
                                                  "random, kwargs given", "random, float32, kwargs given", None]
    assert [c.spec["case"] for c in calls if c.driver.endswith("_perturbed")] == [0, 3]
    assert lost(grade(item, loss)) == []


def test_force_family_rebuilds_the_case_its_copy_and_its_gradient_check():
    calls = ITEM.calls(np.random.default_rng(0))
    force_family(calls, "function", "random", lambda inputs: {"X": inputs["X"] * 1000})
    assert np.abs(calls[0].inputs["X"]).max() > 10
    np.testing.assert_allclose(calls[3].inputs["X"], calls[0].inputs["X"], rtol=1e-6)
    assert calls[3].inputs["X"].dtype == np.float32
    assert calls[5].inputs["X"] is calls[0].inputs["X"]
    assert np.abs(calls[1].inputs["X"]).max() < 10  # other families are untouched


def test_protocols():
    from grader.items import AccuracyItem, LayerItem, SpeedItem
    assert issubclass(AccuracyItem, TrustedItem) and not issubclass(AccuracyItem, ComparedItem)
    assert issubclass(LayerItem, CaseItem) and issubclass(SpeedItem, ComparedItem)
    speed = SpeedItem("x.speed", 1)
    assert speed.exclusive and speed.module == "layers"
    assert AccuracyItem("x.acc", 1, weights="w.npz").weights == "w.npz"
    assert Item("x.y", 1).module == "" and not Item("x.y", 1).exclusive and Item("x.y", 1).files == ()
    assert Mutant("hint", {"loss": "solutions/x/mutants.py:Bug"}).replace["loss"].endswith(":Bug")
