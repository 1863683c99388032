"""Reference losses for the `mlp` curriculum (the contract is docs/contracts.md).

Every loss is the batch mean of per-sample losses, each summed over that sample's features or
classes: loss = (1/N) * sum_n l_n. `forward(scores, target)` returns `(loss, cache)` with `loss`
a 0-d array of the scores' dtype; `backward(cache)` returns d loss / d scores (same shape and
dtype as scores). Integer labels have shape (N,). Float targets are cast to the scores' dtype.
"""
from .backend import get_array_module


def _log_softmax(s):
    """Stable log-softmax over the last axis."""
    xp = get_array_module(s)
    z = s - s.max(axis=-1, keepdims=True)
    return z - xp.log(xp.exp(z).sum(axis=-1, keepdims=True))


def _scalar(value, like):
    """`value` as a 0-d array of `like`'s module and dtype."""
    return get_array_module(like).asarray(value, dtype=like.dtype)


def _rows(labels):
    """Index arrays (arange(N), labels) picking each row's labelled entry."""
    xp = get_array_module(labels)
    return xp.arange(labels.shape[0]), labels


class Loss:
    """Base class: forward(scores, target) -> (loss, cache); backward(cache) -> dscores."""

    def forward(self, scores, target):
        raise NotImplementedError

    def backward(self, cache):
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class MSELoss(Loss):
    """Squared error summed per sample, averaged over the batch: (1/N) sum (s - t)^2.

    Shapes: scores (N, ...), target (N, ...) -> loss (). dtype: that of scores.
    """

    def forward(self, scores, target):
        d = scores - target.astype(scores.dtype, copy=False)
        return _scalar((d * d).sum() / len(scores), scores), d

    def backward(self, cache):
        d = cache
        return d * (2 / len(d))


class MAELoss(Loss):
    """Absolute error summed per sample, averaged over the batch: (1/N) sum |s - t|.

    Shapes: scores (N, ...), target (N, ...) -> loss (). dtype: that of scores.
    Notes: the gradient is sign(s - t) / N, 0 where s == t.
    """

    def forward(self, scores, target):
        d = scores - target.astype(scores.dtype, copy=False)
        return _scalar(abs(d).sum() / len(scores), scores), d

    def backward(self, cache):
        d = cache
        return get_array_module(d).sign(d) / len(d)


class BCEWithLogitsLoss(Loss):
    """Binary cross-entropy on logits (sigmoid fused): (1/N) sum max(s,0) - s*t + log(1 + exp(-|s|)).

    Shapes: scores (N, ...), target in [0, 1] (N, ...) -> loss (). dtype: that of scores.
    Notes: the gradient is (sigmoid(s) - t) / N.
    """

    def forward(self, scores, target):
        xp = get_array_module(scores)
        t = target.astype(scores.dtype, copy=False)
        e = xp.exp(-abs(scores))  # in (0, 1]: no overflow for any logit
        loss = (xp.maximum(scores, 0) - scores * t + xp.log1p(e)).sum() / len(scores)
        return _scalar(loss, scores), (scores, t, e)

    def backward(self, cache):
        s, t, e = cache
        sigmoid = get_array_module(s).where(s >= 0, 1 / (1 + e), e / (1 + e))
        return (sigmoid - t) / len(s)


class CrossEntropyLoss(Loss):
    """Cross-entropy of integer labels under softmax(scores) (softmax fused): (1/N) sum -log p[y].

    Shapes: scores (N, C), labels (N,) int -> loss (). dtype: that of scores.
    Notes: the gradient is (softmax(s) - onehot(y)) / N.
    """

    def forward(self, scores, target):
        logp = _log_softmax(scores)
        return _scalar(-logp[_rows(target)].sum() / len(scores), scores), (logp, target)

    def backward(self, cache):
        logp, y = cache
        d = get_array_module(logp).exp(logp)
        d[_rows(y)] -= 1
        return d / len(d)


class NLLLoss(Loss):
    """Negative log-likelihood of integer labels given log-probabilities: (1/N) sum -logp[y].

    Shapes: logp (N, C), labels (N,) int -> loss (). dtype: that of logp.
    """

    def forward(self, scores, target):
        return _scalar(-scores[_rows(target)].sum() / len(scores), scores), (scores, target)

    def backward(self, cache):
        logp, y = cache
        d = get_array_module(logp).zeros_like(logp)
        d[_rows(y)] = -1 / len(d)
        return d


class HingeLoss(Loss):
    """Multiclass SVM loss: (1/N) sum_n sum_{j != y} max(0, s_j - s_y + margin).

    Shapes: scores (N, C), labels (N,) int -> loss (). dtype: that of scores.
    Notes: each violated margin adds +1 to ds_j and -1 to ds_y (then / N); a margin of
    exactly 0 counts as not violated.
    """

    def __init__(self, *, margin=1.0):
        self.margin = float(margin)

    def forward(self, scores, target):
        xp = get_array_module(scores)
        rows = _rows(target)
        margins = xp.maximum(scores - scores[rows][:, None] + self.margin, 0)
        margins[rows] = 0
        return _scalar(margins.sum() / len(scores), scores), (margins, target)

    def backward(self, cache):
        margins, y = cache
        d = (margins > 0).astype(margins.dtype)
        d[_rows(y)] = -d.sum(axis=1)
        return d / len(d)


class KLDivLoss(Loss):
    """KL divergence KL(p || q) from log q and p: (1/N) sum p * (log p - log q), 0 log 0 = 0.

    Shapes: logq (N, C), p (N, C) -> loss (). dtype: that of logq.
    Notes: the gradient w.r.t. log q is -p / N.
    """

    def forward(self, scores, target):
        xp = get_array_module(scores)
        p = target.astype(scores.dtype, copy=False)
        positive = p > 0
        p_log_p = xp.where(positive, p * xp.log(xp.where(positive, p, 1)), 0)
        return _scalar((p_log_p - p * scores).sum() / len(scores), scores), p

    def backward(self, cache):
        p = cache
        return -p / len(p)
