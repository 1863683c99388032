# From the `mlp` assignment: this is the stub of its losses.py. Copy your own
# mlp/losses.py over this file (`dlgrade check` names it while it is still the stub).
"""Losses for the `mlp` assignment.

Every loss is the batch mean of per-sample losses, each summed over that sample's features or
classes: loss = (1/N) * sum_n l_n. `forward(scores, target) -> (loss, cache)` returns the loss as
a 0-d array of the scores' dtype; `backward(cache) -> dscores` returns d loss / d scores, the
shape and dtype of `scores`. Integer labels have shape (N,).
"""
import numpy as np


class Loss:
    """Base class. (Given code.)"""

    def forward(self, scores, target):
        raise NotImplementedError

    def backward(self, cache):
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


def batch_mean(per_element, n):
    """Sum of all elements divided by the batch size n, as a 0-d array. (Given code.)

    Use it for every loss value: summing everything and dividing by N is the batch mean of the
    per-sample sums. (A full `sum()` in NumPy returns a scalar, not a 0-d array.)
    """
    return (per_element.sum(keepdims=True) / n).reshape(())


class MSELoss(Loss):
    """Mean squared error: l_n = sum (s - t)^2 over the sample's elements.

    Shapes: scores (N, ...), target (same) -> loss (); dscores (N, ...).
    """

    def forward(self, scores, target):
        # YOUR CODE HERE
        raise NotImplementedError

    def backward(self, cache):
        # YOUR CODE HERE
        raise NotImplementedError


class MAELoss(Loss):
    """Mean absolute error: l_n = sum |s - t| over the sample's elements.

    Shapes: scores (N, ...), target (same) -> loss (); dscores (N, ...).
    Convention: at s == t, where |s - t| has no derivative, use 0 as its derivative.
    """

    def forward(self, scores, target):
        # YOUR CODE HERE
        raise NotImplementedError

    def backward(self, cache):
        # YOUR CODE HERE
        raise NotImplementedError


class BCEWithLogitsLoss(Loss):
    """Binary cross-entropy on logits, sigmoid fused:
    l_n = sum max(s, 0) - s * t + log(1 + exp(-|s|)) over the sample's elements.

    Shapes: scores (N, ...) logits, target (same) in [0, 1] -> loss (); dscores (N, ...).
    Hint: the fused form never overflows; differentiate the loss of the logits s directly
    (the target t is a constant).
    """

    def forward(self, scores, target):
        # YOUR CODE HERE
        raise NotImplementedError

    def backward(self, cache):
        # YOUR CODE HERE
        raise NotImplementedError


class CrossEntropyLoss(Loss):
    """Softmax cross-entropy, softmax fused: l_n = -log softmax(s_n)[y_n].

    Shapes: scores (N, C), labels (N,) integers in [0, C) -> loss (); dscores (N, C).
    Hint: use the log-sum-exp trick; differentiate the fused form, not softmax then log.
    """

    def forward(self, scores, target):
        # YOUR CODE HERE
        raise NotImplementedError

    def backward(self, cache):
        # YOUR CODE HERE
        raise NotImplementedError


class NLLLoss(Loss):
    """Negative log-likelihood of log-probabilities: l_n = -logp_n[y_n].

    Shapes: scores (N, C) log-probabilities, labels (N,) -> loss (); dscores (N, C).
    """

    def forward(self, scores, target):
        # YOUR CODE HERE
        raise NotImplementedError

    def backward(self, cache):
        # YOUR CODE HERE
        raise NotImplementedError


class HingeLoss(Loss):
    """Multiclass SVM loss: l_n = sum_{j != y_n} max(0, s_j - s_{y_n} + margin).

    Shapes: scores (N, C), labels (N,) -> loss (); dscores (N, C).
    Convention: a margin of exactly 0 is inactive: it adds nothing to the loss nor to dscores.
    """

    def __init__(self, *, margin=1.0):
        self.margin = margin

    def forward(self, scores, target):
        # YOUR CODE HERE
        raise NotImplementedError

    def backward(self, cache):
        # YOUR CODE HERE
        raise NotImplementedError


class KLDivLoss(Loss):
    """Kullback-Leibler divergence KL(p || q) from log q: l_n = sum p * (log p - log q),
    with 0 log 0 = 0.

    Shapes: scores (N, C) log-probabilities log q, target (N, C) probabilities p -> loss ();
    dscores (N, C).
    Only log q (the scores) is differentiated; the target p is a constant.
    """

    def forward(self, scores, target):
        # YOUR CODE HERE
        raise NotImplementedError

    def backward(self, cache):
        # YOUR CODE HERE
        raise NotImplementedError
