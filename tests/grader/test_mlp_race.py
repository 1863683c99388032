"""The optimizer race and XOR (`mlp.optim.race`, `mlp.xor`): their settings make verdicts that no
last-bit difference between correct implementations can change, and what they claim holds.

The grading side (answer key full marks, each planted optimizer or Linear bug losing its share)
is in test_planted_bugs.py (`tests/submissions/mlp/bugs/`)."""
import sys

import numpy as np
import pytest

import reference.layers
import reference.losses
import reference.optim as O
from grader.engine import items
from grader.sandbox import course_drivers
from tests.conftest import ROOT


course_drivers.load(ROOT / "solutions" / "mlp" / "drivers.py")  # as the engine loads it: never a clash later
DRIVERS = sys.modules["grader.course_drivers.mlp"]
RACE = next(i for i in items("mlp") if i.id == "mlp.optim.race")
XOR = next(i for i in items("mlp") if i.id == "mlp.xor")
REGISTRY = type(RACE)  # RaceItem: its module holds RACERS and SURFACES
MODULES = {"optim": O, "layers": reference.layers, "losses": reference.losses}


def run(resolve):
    call = RACE.calls(np.random.default_rng(0))[0]
    return DRIVERS.race(resolve, call.spec, call.inputs)


def reference_resolve(module, name):
    return getattr(MODULES[module], name)


REFERENCE = run(reference_resolve)
RACERS = [name for name, _ in __import__(REGISTRY.__module__, fromlist=["RACERS"]).RACERS]


class TorchAdam(O.Adam):
    """Adam in torch.optim's arithmetic: step size lr / (1 - b1^t), denominator sqrt(v) / sqrt(1 - b2^t) + eps."""

    def update(self, p, g, bufs, t):
        m = self.beta1 * bufs["m"] + (1 - self.beta1) * g
        v = self.beta2 * bufs["v"] + (1 - self.beta2) * g * g
        denom = np.sqrt(v) / np.sqrt(1 - self.beta2 ** t) + self.eps
        return p - (self.lr / (1 - self.beta1 ** t)) * m / denom, {"m": m, "v": v}


class ReorderedRMSProp(O.RMSProp):
    """RMSProp written another way: s = s + (1 - alpha) * (g^2 - s); p - g * (lr / (sqrt(s) + eps))."""

    def update(self, p, g, bufs, t):
        s = bufs["s"] + (1 - self.alpha) * (g * g - bufs["s"])
        return p - g * (self.lr / (np.sqrt(s) + self.eps)), {"s": s}


class Float64Momentum(O.Momentum):
    """Momentum as v = g + momentum * v, p = p + (-lr) * v (the same numbers, other roundings)."""

    def update(self, p, g, bufs, t):
        v = g + self.momentum * bufs["v"]
        return p + (-self.lr) * v, {"v": v}


@pytest.mark.parametrize("name", RACERS)
def test_no_path_is_chaotic(name, monkeypatch):
    """Moving every start by 1e-12 moves no point of any path (and no loss) by more than 1e-9 of
    its magnitude: the tolerance (1e-6 of it) is a thousand times wider than what rounding reaches."""
    monkeypatch.setattr(DRIVERS, "network_data", lambda seed, _f=DRIVERS.network_data: (
        lambda x, t, p: (x, t, {k: v + 1e-12 for k, v in p.items()}))(*_f(seed)))
    call = RACE.calls(np.random.default_rng(0))[0]
    for surface in call.spec["surfaces"].values():
        if "start" in surface:
            surface["start"] = [v + 1e-12 for v in surface["start"]]
    moved = DRIVERS.race(reference_resolve, call.spec, call.inputs)
    for kind in ("path", "loss"):
        for surface, want in REFERENCE[kind][name].items():
            assert np.abs(moved[kind][name][surface] - want).max() < 1e-9 * (1 + np.abs(want).max()), (name, surface)


def test_equivalent_arithmetic_passes_and_one_wrong_constant_costs_one_share():
    """Correct optimizers written with other roundings follow the reference's paths; RMSProp with
    s = alpha * s + g^2 leaves them, and only its check fails."""
    others = {"Adam": TorchAdam, "RMSProp": ReorderedRMSProp, "Momentum": Float64Momentum}
    got = run(lambda module, name: others.get(name) or reference_resolve(module, name))
    assert [c.name for c in RACE.evaluate([], [got], [REFERENCE], []) if not c.passed] == []

    class NoLeak(O.RMSProp):
        def update(self, p, g, bufs, t):
            s = self.alpha * bufs["s"] + g * g
            return p - self.lr * g / (np.sqrt(s) + self.eps), {"s": s}
    bad = run(lambda module, name: NoLeak if name == "RMSProp" else reference_resolve(module, name))
    checks = RACE.evaluate([], [bad], [REFERENCE], [("RMSProp's hint", [got])])
    failed = [c for c in checks if not c.passed]
    assert [c.name for c in failed] == ["RMSProp's paths follow the reference's on every surface"]
    assert "step 1 leaves the reference's path" in failed[0].message
    assert checks[0].figures and checks[0].figures[0].name == "mlp.optim.race.png"


def test_an_optimizer_that_raises_costs_its_share_and_all_unwritten_is_not_attempted():
    class Broken(O.Adam):
        def update(self, p, g, bufs, t):
            raise ZeroDivisionError("oops")

    got = run(lambda module, name: Broken if name == "Adam" else reference_resolve(module, name))
    checks = RACE.evaluate([], [got], [REFERENCE], [])
    assert [c.message for c in checks if not c.passed] == ["Adam raised ZeroDivisionError: oops"]

    class Unwritten(O.Adadelta):
        def update(self, p, g, bufs, t):
            raise NotImplementedError

    got = run(lambda module, name: Unwritten if name == "Adadelta" else reference_resolve(module, name))
    checks = RACE.evaluate([], [got], [REFERENCE], [])
    assert [c.message for c in checks if not c.passed] == ["Adadelta is not implemented yet"]

    class Stub:
        def __init__(self, **kwargs):
            pass

        def init_state(self, params):
            raise NotImplementedError

    with pytest.raises(NotImplementedError):
        run(lambda module, name: Stub)


def test_the_race_tells_the_lectures_story():
    """What the figure shows: momentum methods and Adam get far down Rosenbrock's valley while
    plain SGD and AdaGrad crawl; at the saddle SGD is still near the ridge when the adaptive methods
    have left it."""
    final = {n: REFERENCE["loss"][n]["rosenbrock"][-1] for n in RACERS}
    assert max(final["Momentum"], final["Nesterov"], final["Adam"]) < 0.1 < min(final["SGD"], final["AdaGrad"])
    saddle_y = {n: abs(REFERENCE["path"][n]["saddle"][60, 1]) for n in RACERS}
    assert saddle_y["SGD"] < 0.1 and min(saddle_y["RMSProp"], saddle_y["Adam"], saddle_y["AdaGrad"]) > 0.9


def test_xor_a_line_cannot_a_two_layer_network_can():
    call = XOR.calls(np.random.default_rng(0))[0]
    out = DRIVERS.xor(reference_resolve, call.spec, call.inputs)
    checks = XOR.evaluate([call], [out], [None], [])
    assert all(c.passed for c in checks), [c.message for c in checks]
    assert out["loss"]["linear"][0] > 0.8 and abs(out["loss"]["linear"][-1] - np.log(2)) < 1e-3 and out["loss"]["network"][-1] < 0.01

    class FrozenLinear(reference.layers.Linear):  # gradients of zero: nothing learns
        def backward(self, dy, cache):
            dx, grads = super().backward(dy, cache)
            return dx, {k: np.zeros_like(v) for k, v in grads.items()}
    stuck = DRIVERS.xor(lambda m, n: FrozenLinear if n == "Linear" else reference_resolve(m, n), call.spec, call.inputs)
    assert [c.passed for c in XOR.evaluate([call], [stuck], [None], [])] == [False, False, False]


def test_xor_a_run_that_raises_fails_its_own_check():
    call = XOR.calls(np.random.default_rng(0))[0]

    class Transposed(reference.layers.Linear):  # dW of the wrong shape: the update raises
        def backward(self, dy, cache):
            dx, grads = super().backward(dy, cache)
            return dx, {**grads, "W": grads["W"].T}
    out = DRIVERS.xor(lambda m, n: Transposed if n == "Linear" else reference_resolve(m, n), call.spec, call.inputs)
    checks = XOR.evaluate([call], [out], [None], [])
    assert [c.message for c in checks] == [
        "training logistic regression raised ValueError: the gradient of W has shape (1, 2), its parameter (2, 1)",
        "training the network raised ValueError: the gradient of W has shape (1, 8), its parameter (8, 1)",
        "training the network on the cloud raised ValueError: the gradient of W has shape (1, 8), its parameter (8, 1)"]
