"""Known bugs, as small variants of the reference: when a student's output matches one, the
feedback names the bug. Used only in the trusted parent (and at release time, to store the
public cases' bug outputs)."""
from reference.backend import get_array_module
from reference.conv import MaxPool2d
from reference.layers import BatchNorm1d, Sequential
from reference.losses import HingeLoss
from reference.optim import Adam, Momentum


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


class MaxPoolLastMax(MaxPool2d):
    """Ties go to the last maximum of a window."""
    def forward(self, x, params, *, train=False, rng=None, state=None):
        y, (arg, shape, offsets) = super().forward(x[:, :, ::-1, ::-1], params)
        return y[:, :, ::-1, ::-1], (arg, shape, offsets)

    def backward(self, dy, cache):
        dx, grads = super().backward(dy[:, :, ::-1, ::-1], cache)
        return dx[:, :, ::-1, ::-1], grads


class MaxPoolAllMaxima(MaxPool2d):
    """Every tied maximum of a window gets the window's whole gradient."""
    def forward(self, x, params, *, train=False, rng=None, state=None):
        y, cache = super().forward(x, params)
        return y, (x, y, cache)

    def backward(self, dy, cache):
        xp = get_array_module(dy)
        x, y, (_, shape, offsets) = cache
        dx = xp.zeros(shape, dtype=dy.dtype)
        for _, _, rows, cols in offsets:
            dx[:, :, rows, cols] += xp.where(x[:, :, rows, cols] == y, dy, 0)
        return dx, {}


# --------------------------------------------------------------------------- rnn
from reference.rnn import LSTM, TemporalCrossEntropyLoss  # noqa: E402
from reference.text import clip_grad_norm  # noqa: E402


class LSTMNoForgetBiasGrad(LSTM):
    def _grads(self, x, h, dxa, dha):
        grads = super()._grads(x, h, dxa, dha)
        grads["b"] = grads["b"].copy()
        grads["b"][self.hidden_size:2 * self.hidden_size] = 0
        return grads


class TemporalCENoMask(TemporalCrossEntropyLoss):
    def __init__(self, *, ignore_index=-1):
        super().__init__(ignore_index=-10 ** 9)  # nothing is ever ignored


def clip_per_tensor(grads, max_norm):
    _, total_norm = clip_grad_norm(grads, max_norm)
    return {k: clip_grad_norm({k: g}, max_norm)[0][k] for k, g in grads.items()}, total_norm


def clip_skipped(grads, max_norm):
    _, total_norm = clip_grad_norm(grads, max_norm)
    return {k: g.copy() for k, g in grads.items()}, total_norm


def clip_inverted(grads, max_norm):
    _, total_norm = clip_grad_norm(grads, max_norm)
    factor = total_norm / max_norm if total_norm > max_norm else 1.0
    return {k: g * factor for k, g in grads.items()}, total_norm


def _no_time_accumulation(cls):
    """`cls` whose BPTT forgets the gradient flowing back from step t+1."""
    class Mutant(cls):
        def backward(self, dhs, cache):
            xp = get_array_module(dhs)
            x, h_prev, Wx, cells = cache
            N, T, H = dhs.shape
            dxa = xp.empty((N, T, self.gates * H), dtype=dhs.dtype)
            dha = dxa if len(self.biases) == 1 else xp.empty_like(dxa)
            for t in range(T):
                dcarry = (dhs[:, t],) + tuple(xp.zeros((N, H), dtype=dhs.dtype) for _ in self.carry[1:])
                dxa[:, t], dha_t, _ = self._cell_backward(dcarry, cells[t])
                if dha is not dxa:
                    dha[:, t] = dha_t
            return dxa @ Wx.T, self._grads(x, h_prev, dxa, dha)
    Mutant.__name__ = cls.__name__ + "NoTimeAccumulation"
    return Mutant


from reference.rnn import GRU, RNN  # noqa: E402

RNNNoTimeAccumulation = _no_time_accumulation(RNN)
LSTMNoTimeAccumulation = _no_time_accumulation(LSTM)
GRUNoTimeAccumulation = _no_time_accumulation(GRU)
