"""Every "large values" family of linear, mlp and rnn triggers its numerical condition by
construction, at every salt (issue 19, class 3).

A family exists to catch code that is unstable in one way (exp overflowing without a shift, a
shift by the batch's maximum instead of each row's, log of a probability that underflows to 0, a
sigmoid or tanh written as a ratio of exponentials). Each test draws the item's calls exactly as
grading does (`item.calls(engine.item_rng(item.id, salt))`) for 20 salts and asserts that the
family's inputs satisfy the condition; the planted bugs named in docs/clauses.md (row `stable`,
`linear-stable`, `rnn-large-preactivation`) show that the condition is what catches them.
"""
import dataclasses

import numpy as np
import pytest

from grader import engine
from grader.items import F32, ComparedItem

SALTS = [f"salt-{k}" for k in range(20)]
OVERFLOW = 710.0   # exp(710) is inf in float64
FORCED = {"x", "X", "z", "scores"}  # the inputs a family rebuilds
APART = 800.0      # exp(-800) is 0: a row this far below the batch's maximum underflows entirely


def item(item_id):
    return next(i for i in engine.items(item_id.split(".")[0]) if i.id == item_id)


def family(item_id, tag, salt):
    """The inputs of the call tagged `tag`, after checking that its float32 copy (if any) holds
    the same values."""
    calls = item(item_id).calls(engine.item_rng(item_id, salt))
    tagged = {c.spec.get("tag"): c for c in calls if c.spec.get("tag")}
    inputs = tagged[tag].inputs
    if tag + F32 in tagged:
        for key in FORCED.intersection(inputs):  # the rebuilt input (not dy: each case draws its own)
            np.testing.assert_array_equal(tagged[tag + F32].inputs[key], inputs[key].astype(np.float32))
    return inputs, calls


# --------------------------------------------------------------------------- conditions
def both_sides(x, scale=1.0):
    """Entries past exp's overflow on both sides."""
    z = np.asarray(x, dtype=np.float64) * scale
    assert z.max() >= OVERFLOW and z.min() <= -OVERFLOW, (z.min(), z.max())


def rows_apart(s, labels=None, every_row_low=True):
    """Every row's maximum overflows exp, row maxima are APART apart (so a shift by the batch's
    maximum underflows a row), every row (`every_row_low`) has an entry APART below its maximum
    (log(softmax) is -inf there) and, with labels, some unmasked label sits that low."""
    s = np.asarray(s, dtype=np.float64)
    rows = s.reshape(-1, s.shape[-1])
    top = rows.max(axis=1)
    assert (top >= OVERFLOW).all(), top
    if len(rows) > 1:
        assert top.max() - top.min() >= APART, top
    if every_row_low:
        assert ((top - rows.min(axis=1)) >= APART).all()
    if labels is not None:
        y = np.asarray(labels).reshape(-1)
        k = np.flatnonzero(y >= 0)
        assert (top[k] - rows[k, y[k]] >= APART).any(), "no label far below its row's maximum"


def logistic_saturated(args):
    z = args["X"] @ args["w"] + args["b"]
    assert np.abs(z).min() >= 50
    k = int(np.argmax(z))
    assert z[k] >= 750 and args["y"][k] == 0
    if len(z) > 1:
        assert z.min() <= -750


def classifier_scores(args):
    rows_apart(args["X"] @ args["W"], args["y"], every_row_low=False)


def bce(inputs):
    s, t = np.asarray(inputs["scores"]).ravel(), np.asarray(inputs["target"]).ravel()
    both_sides(s)
    hi, lo = int(np.argmax(s)), int(np.argmin(s))
    assert 0 < t[hi] < 1 and 0 < t[lo] < 1


GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def gate_blocks(a, gates, margin=0.0):
    """In every gate block some pre-activation is >= OVERFLOW + margin and some <= -(OVERFLOW + margin);
    every one is at least 50 + margin in size (the unit saturated: central differences are exact)."""
    blocks = np.asarray(a).reshape(len(a), gates, -1)
    assert np.abs(blocks).min() >= 50 + margin, np.abs(blocks).min()
    assert (blocks.max(axis=(0, 2)) >= OVERFLOW + margin).all() and \
        (blocks.min(axis=(0, 2)) <= -OVERFLOW - margin).all(), blocks


def step_preactivation(key):
    def check(inputs):
        p, x, h = inputs["params"], inputs["x"], inputs["h"]
        if key == "gru":
            H = h.shape[1]
            ax, ah = x @ p["Wx"] + p["bx"], h @ p["Wh"] + p["bh"]
            r = 1 / (1 + np.exp(-np.clip(ax[:, :H] + ah[:, :H], -500, 500)))
            a = np.concatenate([ax[:, :2 * H] + ah[:, :2 * H], ax[:, 2 * H:] + r * ah[:, 2 * H:]], axis=1)
        else:
            a = x @ p["Wx"] + h @ p["Wh"] + p["b"]
        gate_blocks(a, GATES[key])
    return check


def sequence_preactivation(key):
    """At every time step the x-part of every gate block is past +-710 by more than anything the
    hidden-state and bias terms can add (|h| <= max(1, |h0|))."""
    def check(inputs):
        p, x = inputs["params"], inputs["x"]
        h0 = np.asarray(inputs.get("state", {}).get("h", np.zeros(1)))
        bound = max(1.0, float(np.abs(h0).max(initial=0))) * np.abs(p["Wh"]).sum(axis=0).max()
        bound += sum(float(np.abs(p[b]).max()) for b in ("b", "bx", "bh") if b in p)
        for t in range(x.shape[1]):
            gate_blocks(x[:, t] @ p["Wx"], GATES[key], margin=bound)
    return check


def sampler(calls):
    z = np.asarray(calls[4].inputs["logits"], dtype=np.float64)[0]
    top = np.sort(z)
    assert top[-1] >= OVERFLOW and top[-1] - top[-2] >= 100, top


# (id, item id, case tag, check(inputs))
LAYER_LARGE = "large inputs (x1000)"
STEP_LARGE = "|pre-activation| > 710 (x times 1000)"
SEQ_LARGE = "|pre-activation| > 710 (inputs x1000)"
FAMILIES = [
    ("linear.sigmoid", "linear.logistic.sigmoid", "large |z| (x1000), with 0, +-710, +-745.5, +-1000",
     lambda i: both_sides(i["z"])),
    ("linear.log_loss.saturated", "linear.logistic.log_loss.stable",
     "logits x1000 (some beyond +-750, every |z| >= 50)", logistic_saturated),
    ("linear.log_loss.saturated_batch_of_1", "linear.logistic.log_loss.stable",
     "logits x1000, batch of 1 (z >= 750, label 0)", logistic_saturated),
    ("linear.softmax_loops.scores_x1000", "linear.softmax.loops", "scores x1000", classifier_scores),
    ("linear.softmax.scores_x1000", "linear.softmax.stable", "scores x1000", classifier_scores),
    ("linear.softmax.scores_x1000_batch_of_1", "linear.softmax.stable", "scores x1000, batch of 1", classifier_scores),
    *[(f"mlp.{key}.{part}", f"mlp.{key}.{part}", LAYER_LARGE, lambda i, s=scale: both_sides(i["x"], s))
      for key, scale in (("sigmoid", 1.0), ("tanh", 1.0), ("softplus", 1.5)) for part in ("forward", "backward")],
    *[(f"mlp.{key}.{part}", f"mlp.{key}.{part}", LAYER_LARGE, lambda i: rows_apart(i["x"]))
      for key in ("softmax", "log_softmax") for part in ("forward", "backward")],
    ("mlp.loss.bce_with_logits", "mlp.loss.bce_with_logits", "scores x1000", bce),
    ("mlp.loss.cross_entropy", "mlp.loss.cross_entropy", "scores x1000",
     lambda i: rows_apart(i["scores"], i["target"])),
    *[(f"rnn.{key}.step.{part}", f"rnn.{key}.step.{part}", STEP_LARGE, step_preactivation(key))
      for key in GATES for part in ("forward", "backward")],
    *[(f"rnn.{key}.{part}", f"rnn.{key}.{part}", SEQ_LARGE, sequence_preactivation(key))
      for key in GATES for part in ("forward", "backward")],
    ("rnn.loss.temporal_cross_entropy", "rnn.loss.temporal_cross_entropy", "scores x1000",
     lambda i: rows_apart(i["scores"], i["target"])),
]


@pytest.mark.parametrize("item_id, tag, check", [f[1:] for f in FAMILIES], ids=[f[0] for f in FAMILIES])
def test_family_forces_its_condition(item_id, tag, check):
    for salt in SALTS:
        inputs, _ = family(item_id, tag, salt)
        check(inputs)


def test_sampler_large_logits_force_the_argmax():
    for salt in SALTS:
        sampler(item("rnn.sample_next").calls(engine.item_rng("rnn.sample_next", salt)))


def test_gradient_checks_see_the_forced_inputs():
    """The numerical gradient check of a rebuilt family differentiates the rebuilt inputs."""
    for item_id, tag, key in (("mlp.softmax.backward", LAYER_LARGE, "x"), ("mlp.loss.cross_entropy", "scores x1000", "scores"),
                              ("rnn.lstm.step.backward", STEP_LARGE, "x"), ("rnn.gru.backward", SEQ_LARGE, "x"),
                              ("rnn.loss.temporal_cross_entropy", "scores x1000", "scores")):
        inputs, calls = family(item_id, tag, SALTS[0])
        index = next(k for k, c in enumerate(calls) if c.spec.get("tag") == tag)
        perturbed = [c for c in calls if c.driver.endswith("_perturbed") and c.spec["case"] == index]
        assert perturbed, item_id
        np.testing.assert_array_equal(perturbed[0].inputs[key], inputs[key])


@pytest.mark.parametrize("condition", [both_sides, rows_apart])
def test_conditions_can_fail(condition):
    """The checks are not vacuous: plain x1000 normal draws fail them at some salt."""
    rng = np.random.default_rng(0)
    failures = 0
    for _ in range(20):
        try:
            condition(rng.standard_normal((3, 5)) * 300)
        except AssertionError:
            failures += 1
    assert failures > 0


@pytest.mark.parametrize("item_id, tag, check", [
    ("mlp.softmax.forward", LAYER_LARGE, lambda i: rows_apart(i["x"])),
    ("mlp.loss.cross_entropy", "scores x1000", lambda i: rows_apart(i["scores"], i["target"])),
    ("rnn.lstm.step.forward", STEP_LARGE, step_preactivation("lstm")),
    ("rnn.loss.temporal_cross_entropy", "scores x1000", lambda i: rows_apart(i["scores"], i["target"])),
], ids=["softmax", "cross_entropy", "lstm_step", "temporal_cross_entropy"])
def test_plain_scaling_misses_the_condition(item_id, tag, check):
    """The same item as its plain base class (inputs only scaled x1000, as before issue 19) fails
    the condition at some of the 20 salts: the rebuilt families are what makes it hold."""
    forced = item(item_id)
    base = next(c for c in type(forced).__mro__[1:]
                if c.__module__.startswith("grader.items.") and issubclass(c, ComparedItem))
    plain = base(**{f.name: getattr(forced, f.name) for f in dataclasses.fields(base)})
    misses = 0
    for salt in SALTS:
        calls = plain.calls(engine.item_rng(item_id, salt))
        try:
            check(next(c for c in calls if c.spec.get("tag") == tag).inputs)
        except AssertionError:
            misses += 1
    assert misses > 0
