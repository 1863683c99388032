"""The `mlp` assignment: layers, activations, losses, optimizers, initialisation, a trained MLP."""
import numpy as np

from grader.items import (AccuracyItem, BatchNormItem, DropoutItem, InitItem, InitStudyItem, LayerItem, LossItem,
                          Mutant, OptimizerItem, SequentialItem, away_from_zero, randn)

ORDER = 2  # the course's week
DATA = ("cifar10",)

M = "grader.mutants:"
MLP_LAYERS = ("Flatten", "Linear", "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "ELU", "Softplus", "Dropout", "BatchNorm1d")


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


def hinge_scores(rng, n, c, dtype):
    s, y = scores_and_labels(rng, n, c, np.float64)
    margins = s - s[np.arange(n), y][:, None] + 1.0
    near_kink = (np.abs(margins) < 0.05) & (np.arange(c)[None, :] != y[:, None])
    return (s + 0.1 * near_kink).astype(dtype), y


def two_distributions(rng, n, c, dtype):
    p = np.exp(_log_softmax(randn(rng, (n, c), np.float64, 2.0)))
    p[0, 0] = 0.0  # 0 * log 0 = 0
    p[0] /= p[0].sum()
    return _log_softmax(randn(rng, (n, c), np.float64, 2.0)).astype(dtype), p.astype(dtype)


LARGE = (("large inputs (x1000)", (3, 5), 1000.0),)
THREE_D = (("3-d input (N, T, C)", (2, 3, 4), 1.0),)


def layer_items(key, name, make, fwd, bwd, edge=(), **kwargs):
    return [LayerItem(f"mlp.{key}.forward", fwd, name=name, part="forward", make=make, edge=edge, **kwargs),
            LayerItem(f"mlp.{key}.backward", bwd, name=name, part="backward", make=make, edge=edge, **kwargs)]


ITEMS = [
    *layer_items("linear", "Linear", linear, 2, 3, out_shape=lambda kw, x: (len(x), kw["out_features"])),
    *layer_items("sigmoid", "Sigmoid", elementwise(), 1, 1.5, LARGE),
    *layer_items("tanh", "Tanh", elementwise(), 1, 1.5, LARGE),
    *layer_items("relu", "ReLU", elementwise(), 1, 1.5, special=at_kink()),
    *layer_items("leaky_relu", "LeakyReLU", elementwise(negative_slope=0.1), 1, 1.5,
                 special=at_kink(negative_slope=0.1)),
    *layer_items("elu", "ELU", elementwise(alpha=0.7), 1, 1.5, special=at_kink(alpha=0.7)),
    *layer_items("softplus", "Softplus", elementwise(beta=1.5), 1, 1.5, LARGE),
    *layer_items("softmax", "Softmax", elementwise(), 2, 2, LARGE + THREE_D),
    *layer_items("log_softmax", "LogSoftmax", elementwise(), 2, 2, LARGE + THREE_D),
    DropoutItem("mlp.dropout.train", 3, part="train", p=0.3),
    DropoutItem("mlp.dropout.eval", 1, visibility="hidden", part="eval", p=0.3),
    BatchNormItem("mlp.batchnorm.train", 3, part="train",
                  mutants=(Mutant("the running variance must use the unbiased batch variance (N/(N-1))",
                                  {"BatchNorm1d": M + "BatchNormBiasedRunningVar"}),)),
    BatchNormItem("mlp.batchnorm.backward", 4, part="backward"),
    BatchNormItem("mlp.batchnorm.eval", 3, visibility="hidden", part="eval",
                  mutants=(Mutant("at evaluation time normalise with running_mean/running_var, not the batch's statistics",
                                  {"BatchNorm1d": M + "BatchNormEvalBatchStats"}),
                           Mutant("the running variance must use the unbiased batch variance (N/(N-1))",
                                  {"BatchNorm1d": M + "BatchNormBiasedRunningVar"}))),
    InitItem("mlp.init.xavier_uniform", 1.5, name="xavier_uniform", distribution="uniform"),
    InitItem("mlp.init.he_normal", 1.5, name="he_normal", distribution="normal"),
    InitStudyItem("mlp.init.study", 3, init="xavier_uniform", stds=(0.01, 1.0)),
    SequentialItem("mlp.sequential", 3,
                   mutants=(Mutant("Sequential must pass rng on to every layer", {"Sequential": M + "SequentialDropsRng"}),)),
    LossItem("mlp.loss.mse", 2, name="MSELoss", make=regression),
    LossItem("mlp.loss.mae", 2, name="MAELoss", make=regression,
             special=(("scores equal to targets at some entries (gradient 0 there)", equal_at_some_entries),)),
    LossItem("mlp.loss.bce_with_logits", 3, name="BCEWithLogitsLoss", make=logits_and_probabilities, edge=(1000.0,)),
    LossItem("mlp.loss.cross_entropy", 3, name="CrossEntropyLoss", make=scores_and_labels, edge=(1000.0,)),
    LossItem("mlp.loss.nll", 2, name="NLLLoss", make=log_probs_and_labels),
    LossItem("mlp.loss.hinge", 3, name="HingeLoss", make=hinge_scores, kwargs={"margin": 1.0},
             mutants=(Mutant("the correct class is counted in the sum: skip j == y", {"HingeLoss": M + "HingeCountsCorrectClass"}),)),
    LossItem("mlp.loss.kl_div", 3, name="KLDivLoss", make=two_distributions),
    OptimizerItem("mlp.optim.sgd", 2.5, name="SGD", kwargs={"lr": 0.1}),
    OptimizerItem("mlp.optim.momentum", 2.5, name="Momentum", kwargs={"lr": 0.1, "momentum": 0.8},
                  mutants=(Mutant("the momentum step has the wrong sign: p = p - lr * v", {"Momentum": M + "MomentumWrongSign"}),)),
    OptimizerItem("mlp.optim.nesterov", 2.5, name="Nesterov", kwargs={"lr": 0.1, "momentum": 0.8},
                  mutants=(Mutant("this is plain momentum: Nesterov steps by g + momentum * v", {"Nesterov": "reference.optim:Momentum"}),)),
    OptimizerItem("mlp.optim.adagrad", 2.5, name="AdaGrad", kwargs={"lr": 0.1}, small_grad=1e-10),
    OptimizerItem("mlp.optim.rmsprop", 2.5, name="RMSProp", kwargs={"lr": 0.01, "alpha": 0.9}, small_grad=1e-8),
    OptimizerItem("mlp.optim.adadelta", 2.5, name="Adadelta", kwargs={"lr": 1.0, "rho": 0.8}, small_grad=1e-6),
    OptimizerItem("mlp.optim.adam", 2.5, name="Adam", kwargs={"lr": 0.01, "beta1": 0.8, "beta2": 0.9}, small_grad=1e-8,
                  mutants=(Mutant("Adam without bias correction: divide m by (1 - beta1**t) and v by (1 - beta2**t)",
                                  {"Adam": M + "AdamNoBiasCorrection"}),)),
    OptimizerItem("mlp.optim.sgd.weight_decay", 1.25, visibility="hidden", name="SGD",
                  kwargs={"lr": 0.1, "weight_decay": 0.1}),
    OptimizerItem("mlp.optim.adam.weight_decay", 1.25, visibility="hidden", name="Adam",
                  kwargs={"lr": 0.01, "weight_decay": 0.1}, small_grad=1e-8),
    AccuracyItem("mlp.train.accuracy", 11, weights="mlp_weights.npz", floor=0.40, target=0.52, timeout=120,
                 layers=MLP_LAYERS),
]
