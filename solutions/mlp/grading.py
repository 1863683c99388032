"""The `mlp` assignment: layers, activations, losses, optimizers, initialisation, a trained MLP."""
from dataclasses import dataclass

import numpy as np

from grader.items import (MLP_LAYERS, AccuracyItem, BatchNormItem, DropoutItem, InitItem, InitStudyItem, LayerItem,
                          LossItem, Mutant, OptimizerItem, SequentialItem, VariantsItem, away_from_zero, force_family,
                          randn)

ORDER = 2  # the course's week
DATA = ("cifar10",)
EARLIER = {"backend.py": "linear/backend.py"}  # given code: the CPU/GPU helpers

M = "solutions/mlp/mutants.py:"  # the course's known bugs


# --------------------------------------------------------------------------- numerical conditions by construction
# Each "large values" family states the condition it is there to trigger and builds its inputs so
# that the condition holds at every seed; `CONDITIONS` (tests/grader/test_stability_cases.py) checks it.
OVERFLOW = 710.0     # exp(710) overflows float64
FAR = 1000.0         # row maxima this far apart: a shift by the batch's maximum underflows a row to 0 / 0


def with_extremes(x):
    """x with its first entries set to +1000 and -1000: past exp's overflow on both sides."""
    x = np.array(x, dtype=np.float64)
    x.flat[:2] = [FAR, -FAR]
    return x


def spread_rows(x, labels=None):
    """x (..., C) with each row (last axis, rows in C order) shifted so that row k's maximum is
    FAR * (k + 1) and its minimum at most its maximum - FAR; with `labels` (...,), the first row's
    label (where it is not negative: padding) is moved to that minimum. Every row overflows exp
    without a shift; rows 1000 apart underflow under a shift by the batch's maximum; a label 1000
    below its row's maximum has softmax probability 0, so log(softmax) is -inf there."""
    x = np.array(x, dtype=np.float64)
    rows = x.reshape(-1, x.shape[-1])
    for k, row in enumerate(rows):
        row += FAR * (k + 1) - row.max()
        j = int(np.argmin(row))
        row[j] = min(row[j], row.max() - FAR)
    if labels is not None:
        labels = np.array(labels)
        flat = labels.reshape(-1)
        k = int(np.flatnonzero(flat >= 0)[0])
        flat[k] = int(np.argmin(rows[k]))
    return x if labels is None else (x, labels)


@dataclass(frozen=True)
class ForcedLayerItem(LayerItem):
    """A LayerItem whose `edge` families are rebuilt by `force[tag](x) -> x` (after scaling), so the
    numerical condition they stand for holds by construction; their float32 copies follow."""
    force: tuple = ()  # (tag, fn)

    def families(self, rng):
        force = dict(self.force)
        return [c._replace(inputs={**c.inputs, "x": force[c.tag](c.inputs["x"]).astype(c.inputs["x"].dtype)})
                if c.tag in force else c for c in super().families(rng)]


@dataclass(frozen=True)
class ForcedLossItem(LossItem):
    """A LossItem whose `scores x<edge>` families are rebuilt by `force(scores, target) -> (scores,
    target)`, in the case, its float32 copy and its gradient check alike."""
    force: object = None

    def calls(self, rng):
        calls = super().calls(rng)
        for tag in {f"scores x{s:g}" for s in self.edge}:
            force_family(calls, "loss", tag,
                         lambda inputs: dict(zip(("scores", "target"), self.force(inputs["scores"], inputs["target"]))))
        return calls


def bce_extremes(scores, target):
    """Logits +-1000 (sigmoid rounds to exactly 1 and 0) with targets 0.5 there."""
    target = np.array(target)
    target.flat[:2] = 0.5
    return with_extremes(scores), target


# --------------------------------------------------------------------------- behaviour-selecting arguments
@dataclass(frozen=True)
class OptimizerVariants(VariantsItem, OptimizerItem):
    pass


@dataclass(frozen=True)
class LossVariants(VariantsItem, LossItem):
    pass


@dataclass(frozen=True)
class BatchNormEps(BatchNormItem):
    """BatchNorm with `eps` given: the "odd sizes" family (and its float32 copy and gradient check)
    runs with eps=EPS_BN, where a hard-coded 1e-5 is off by about 1%."""

    def calls(self, rng):
        calls = super().calls(rng)
        for c in calls:
            if c.spec.get("tag", "").startswith("odd sizes") or c.driver.endswith("_perturbed") and \
                    calls[c.spec["case"]].spec["tag"].startswith("odd sizes"):
                c.spec["kwargs"]["eps"] = EPS_BN
                if "tag" in c.spec:
                    c.spec["tag"] = c.spec["tag"].replace("odd sizes", f"odd sizes, eps={EPS_BN:g}")
        return calls


EPS_BN = 0.1


# --------------------------------------------------------------------------- case makers
def linear(rng, shape, dtype):
    n, d = shape
    m = 3
    params = {"W": randn(rng, (d, m), dtype, 1 / np.sqrt(d)), "b": randn(rng, (m,), dtype)}
    return {"in_features": d, "out_features": m}, randn(rng, shape, dtype), params


def elementwise(**kwargs):
    def make(rng, shape, dtype):
        return dict(kwargs), away_from_zero(rng, shape, dtype) * 2, {}
    return make


def at_kink(**kwargs):
    """A special case: x holds exact zeros (the derivative there is the left branch's)."""
    def make(rng):
        x = away_from_zero(rng, (3, 6)) * 2
        x[:, ::2] = 0.0
        return dict(kwargs), x, {}
    return (("x exactly 0 at some entries (the kink: use the left branch)", make),)


def _log_softmax(s):
    s = s - s.max(axis=1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=1, keepdims=True))


def scores_and_labels(rng, n, c, dtype):
    return randn(rng, (n, c), dtype, 2.0), rng.integers(0, c, n)


def regression(rng, n, c, dtype):
    s = randn(rng, (n, c), dtype)
    return s, (s + away_from_zero(rng, (n, c), dtype, gap=0.1)).astype(dtype)


def equal_at_some_entries(rng):
    """A special case: scores equal to targets at some entries, where MAE's gradient is 0."""
    s, t = regression(rng, 4, 5, np.float64)
    t[:, ::2] = s[:, ::2]
    return s, t


def logits_and_probabilities(rng, n, c, dtype):
    return randn(rng, (n, c), dtype, 2.0), rng.random((n, c)).astype(dtype)


def log_probs_and_labels(rng, n, c, dtype):
    return _log_softmax(randn(rng, (n, c), np.float64, 2.0)).astype(dtype), rng.integers(0, c, n)


def hinge_scores(margin=1.0):
    """Scores whose margins s_j - s_y + `margin` are at least 0.05 away from the kink at 0. For a
    margin other than 1, one score of the first row sits halfway between the two kinks
    (s_j - s_y = -(1 + margin) / 2): active under `margin`, not under 1 (or the reverse), so a loss
    that keeps a margin of 1 has other gradients too, at every seed."""
    def make(rng, n, c, dtype):
        s, y = scores_and_labels(rng, n, c, np.float64)
        margins = s - s[np.arange(n), y][:, None] + margin
        near_kink = (np.abs(margins) < 0.05) & (np.arange(c)[None, :] != y[:, None])
        s = s + 0.1 * near_kink
        if margin != 1.0:
            j = (int(y[0]) + 1) % c
            s[0, j] = s[0, y[0]] - (1.0 + margin) / 2
        return s.astype(dtype), y
    return make


def two_distributions(rng, n, c, dtype):
    p = np.exp(_log_softmax(randn(rng, (n, c), np.float64, 2.0)))
    p[0, 0] = 0.0  # 0 * log 0 = 0
    p[0] /= p[0].sum()
    return _log_softmax(randn(rng, (n, c), np.float64, 2.0)).astype(dtype), p.astype(dtype)


LARGE = (("large inputs (x1000)", (3, 5), 1000.0),)
THREE_D = (("3-d input (N, T, C)", (2, 3, 4), 1.0),)


def layer_items(key, name, make, fwd, bwd, edge=(), cls=LayerItem, **kwargs):
    return [cls(f"mlp.{key}.forward", fwd, name=name, part="forward", make=make, edge=edge, **kwargs),
            cls(f"mlp.{key}.backward", bwd, name=name, part="backward", make=make, edge=edge, **kwargs)]


def stable_items(key, name, make, fwd, bwd, force, edge=LARGE):
    """Forward and backward items whose "large inputs" family is rebuilt by `force`."""
    return layer_items(key, name, make, fwd, bwd, edge, cls=ForcedLayerItem, force=((LARGE[0][0], force),))


def defaults(name, **given):
    """A special case with the layer's hyperparameters left at their defaults (`given`: for the tag)."""
    def make(rng):
        return {}, away_from_zero(rng, (3, 5)) * 2, {}
    return ((f"{name}'s defaults ({', '.join(f'{k}={v}' for k, v in given.items())})", make),)


def optimizer_variants(kwargs, defaults_tag, eps=None):
    """Variants of an optimizer's item: weight_decay=0.1, eps (when it has one) = 0.1 (where a
    hard-coded default is far off), and every hyperparameter but lr (where needed) left at its default."""
    out = [("weight_decay=0.1", {"kwargs": {**kwargs, "weight_decay": 0.1}, "small_grad": 0.0})]
    if eps:
        out.append(("eps=0.1", {"kwargs": {**kwargs, "eps": 0.1}, "small_grad": 0.0}))
    out.append((defaults_tag, {"kwargs": {k: v for k, v in kwargs.items() if k == "lr" and eps is None},
                               "small_grad": 0.0}))
    return tuple(out)


ITEMS = [
    *layer_items("linear", "Linear", linear, 2, 3, out_shape=lambda kw, x: (len(x), kw["out_features"])),
    *stable_items("sigmoid", "Sigmoid", elementwise(), 1, 1.5, with_extremes),
    *stable_items("tanh", "Tanh", elementwise(), 1, 1.5, with_extremes),
    *layer_items("relu", "ReLU", elementwise(), 1, 1.5, special=at_kink()),
    *layer_items("leaky_relu", "LeakyReLU", elementwise(negative_slope=0.1), 1, 1.5,
                 special=at_kink(negative_slope=0.1) + defaults("LeakyReLU", negative_slope=0.01)),
    *layer_items("elu", "ELU", elementwise(alpha=0.7), 1, 1.5, special=at_kink(alpha=0.7) + defaults("ELU", alpha=1.0)),
    *layer_items("softplus", "Softplus", elementwise(beta=1.5), 1, 1.5, LARGE, cls=ForcedLayerItem,
                 force=((LARGE[0][0], with_extremes),), special=defaults("Softplus", beta=1.0)),
    *stable_items("softmax", "Softmax", elementwise(), 2, 2, spread_rows, LARGE + THREE_D),
    *stable_items("log_softmax", "LogSoftmax", elementwise(), 2, 2, spread_rows, LARGE + THREE_D),
    DropoutItem("mlp.dropout.train", 3, part="train", p=0.3),
    DropoutItem("mlp.dropout.eval", 1, visibility="hidden", part="eval", p=0.3),
    BatchNormEps("mlp.batchnorm.train", 3, part="train",
                  mutants=(Mutant("the running variance must use the unbiased batch variance (N/(N-1))",
                                  {"BatchNorm1d": M + "BatchNormBiasedRunningVar"}),
                           Mutant("eps goes inside the square root: (x - mean) / sqrt(var + eps)",
                                  {"BatchNorm1d": M + "BatchNormEpsOutsideSqrt"}))),
    BatchNormEps("mlp.batchnorm.backward", 4, part="backward"),
    BatchNormEps("mlp.batchnorm.eval", 3, visibility="hidden", part="eval",
                  mutants=(Mutant("at evaluation time normalise with running_mean/running_var, not the batch's statistics",
                                  {"BatchNorm1d": M + "BatchNormEvalBatchStats"}),
                           Mutant("the running variance must use the unbiased batch variance (N/(N-1))",
                                  {"BatchNorm1d": M + "BatchNormBiasedRunningVar"}),
                           Mutant("eps goes inside the square root: (x - mean) / sqrt(var + eps)",
                                  {"BatchNorm1d": M + "BatchNormEpsOutsideSqrt"}))),
    InitItem("mlp.init.xavier_uniform", 1.5, name="xavier_uniform", distribution="uniform"),
    InitItem("mlp.init.he_normal", 1.5, name="he_normal", distribution="normal"),
    InitStudyItem("mlp.init.study", 3, init="xavier_uniform", stds=(0.01, 1.0)),
    SequentialItem("mlp.sequential", 3,
                   mutants=(Mutant("Sequential must pass rng on to every layer", {"Sequential": M + "SequentialDropsRng"}),)),
    LossItem("mlp.loss.mse", 2, name="MSELoss", make=regression),
    LossItem("mlp.loss.mae", 2, name="MAELoss", make=regression,
             special=(("scores equal to targets at some entries (gradient 0 there)", equal_at_some_entries),)),
    ForcedLossItem("mlp.loss.bce_with_logits", 3, name="BCEWithLogitsLoss", make=logits_and_probabilities,
                   edge=(1000.0,), force=bce_extremes),
    ForcedLossItem("mlp.loss.cross_entropy", 3, name="CrossEntropyLoss", make=scores_and_labels, edge=(1000.0,),
                   force=spread_rows),
    LossItem("mlp.loss.nll", 2, name="NLLLoss", make=log_probs_and_labels),
    LossVariants("mlp.loss.hinge", 3, name="HingeLoss", make=hinge_scores(), kwargs={"margin": 1.0},
                 variants=(("margin=2", {"make": hinge_scores(2.0), "kwargs": {"margin": 2.0}}),
                           ("margin left at its default (1)", {"kwargs": {}})),
             mutants=(Mutant("the correct class is counted in the sum: skip j == y", {"HingeLoss": M + "HingeCountsCorrectClass"}),)),
    LossItem("mlp.loss.kl_div", 3, name="KLDivLoss", make=two_distributions),
    OptimizerItem("mlp.optim.sgd", 2.5, name="SGD", kwargs={"lr": 0.1}),
    OptimizerVariants("mlp.optim.momentum", 2.5, name="Momentum", kwargs={"lr": 0.1, "momentum": 0.8},
                      variants=optimizer_variants({"lr": 0.1, "momentum": 0.8}, "default momentum=0.9"),
                  mutants=(Mutant("the momentum step has the wrong sign: p = p - lr * v", {"Momentum": M + "MomentumWrongSign"}),)),
    OptimizerVariants("mlp.optim.nesterov", 2.5, name="Nesterov", kwargs={"lr": 0.1, "momentum": 0.8},
                      variants=optimizer_variants({"lr": 0.1, "momentum": 0.8}, "default momentum=0.9"),
                  mutants=(Mutant("this is plain momentum: Nesterov steps by g + momentum * v", {"Nesterov": "reference.optim:Momentum"}),)),
    OptimizerVariants("mlp.optim.adagrad", 2.5, name="AdaGrad", kwargs={"lr": 0.1}, small_grad=1e-10,
                      variants=optimizer_variants({"lr": 0.1}, "defaults lr=0.01, eps=1e-10", eps=True)),
    OptimizerVariants("mlp.optim.rmsprop", 2.5, name="RMSProp", kwargs={"lr": 0.01, "alpha": 0.9}, small_grad=1e-8,
                      variants=optimizer_variants({"lr": 0.01, "alpha": 0.9}, "defaults lr=0.01, alpha=0.99, eps=1e-8",
                                                  eps=True)),
    OptimizerVariants("mlp.optim.adadelta", 2.5, name="Adadelta", kwargs={"lr": 1.0, "rho": 0.8}, small_grad=1e-6,
                      variants=optimizer_variants({"lr": 1.0, "rho": 0.8}, "defaults lr=1, rho=0.9, eps=1e-6", eps=True)),
    OptimizerVariants("mlp.optim.adam", 2.5, name="Adam", kwargs={"lr": 0.01, "beta1": 0.8, "beta2": 0.9},
                      small_grad=1e-8,
                      variants=optimizer_variants({"lr": 0.01, "beta1": 0.8, "beta2": 0.9},
                                                  "defaults lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8", eps=True)[1:],
                  mutants=(Mutant("Adam without bias correction: divide m by (1 - beta1**t) and v by (1 - beta2**t)",
                                  {"Adam": M + "AdamNoBiasCorrection"}),)),
    OptimizerItem("mlp.optim.sgd.weight_decay", 1.25, visibility="hidden", name="SGD",
                  kwargs={"lr": 0.1, "weight_decay": 0.1}),
    OptimizerItem("mlp.optim.adam.weight_decay", 1.25, visibility="hidden", name="Adam",
                  kwargs={"lr": 0.01, "weight_decay": 0.1}, small_grad=1e-8),
    AccuracyItem("mlp.train.accuracy", 11, weights="mlp_weights.npz", floor=0.40, target=0.52, timeout=120,
                 layers=MLP_LAYERS),
]
