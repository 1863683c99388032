"""Known bugs of the `mlp` assignment, as small variants of the reference: when a student's output
matches one, the feedback names the bug. Instructor-only: never released."""
from reference.backend import get_array_module
from reference.layers import BatchNorm1d, Sequential
from reference.losses import HingeLoss
from reference.optim import Adam, Momentum, RMSProp


class BatchNormEpsOutsideSqrt(BatchNorm1d):
    """BatchNorm1d dividing by sqrt(var) + eps instead of sqrt(var + eps)."""

    def forward(self, x, params, *, train=False, rng=None, state=None):
        xp = get_array_module(x)
        y, cache = super().forward(x, params, train=train, rng=rng, state=state)
        var = x.var(axis=0) if train else state["running_var"].astype(x.dtype)
        mean = x.mean(axis=0) if train else state["running_mean"].astype(x.dtype)
        x_hat = (x - mean) / (xp.sqrt(var) + self.eps)
        return params["gamma"] * x_hat + params["beta"], cache


class AdamNoBiasCorrection(Adam):
    def update(self, p, g, bufs, t):
        xp = get_array_module(p)
        m = self.beta1 * bufs["m"] + (1 - self.beta1) * g
        v = self.beta2 * bufs["v"] + (1 - self.beta2) * g * g
        return p - self.lr * m / (xp.sqrt(v) + self.eps), {"m": m, "v": v}


class MomentumWrongSign(Momentum):
    def update(self, p, g, bufs, t):
        v = self.momentum * bufs["v"] - g
        return p - self.lr * v, {"v": v}


class HingeCountsCorrectClass(HingeLoss):
    def forward(self, scores, target):
        loss, cache = super().forward(scores, target)
        return loss + self.margin, cache


class BatchNormEvalBatchStats(BatchNorm1d):
    def forward(self, x, params, *, train=False, rng=None, state=None):
        if train:
            return super().forward(x, params, train=True, rng=rng, state=state)
        return super().forward(x, params, train=True, rng=rng, state=None)


class BatchNormBiasedRunningVar(BatchNorm1d):
    def forward(self, x, params, *, train=False, rng=None, state=None):
        y, cache = super().forward(x, params, train=train, rng=rng, state=state)
        if train and state is not None:
            n, m = x.shape[0], self.momentum
            var = x.var(axis=0)
            prev = (state["running_var"] - m * var * n / (n - 1)) / (1 - m)
            state["running_var"] = (1 - m) * prev + m * var
        return y, cache


class SequentialDropsRng(Sequential):
    def forward(self, x, params, *, train=False, rng=None, state=None):
        return super().forward(x, params, train=train, rng=None, state=state)


class RMSPropNoLeak(RMSProp):
    """RMSProp adding g^2 at full weight: s = alpha * s + g^2 (one wrong constant)."""

    def update(self, p, g, bufs, t):
        xp = get_array_module(p)
        s = self.alpha * bufs["s"] + g * g
        return p - self.lr * g / (xp.sqrt(s) + self.eps), {"s": s}
