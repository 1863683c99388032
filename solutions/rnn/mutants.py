"""Known bugs of the `rnn` assignment, as small variants of the reference: when a student's output
matches one, the feedback names the bug. Instructor-only: never released."""
from reference.backend import get_array_module
from reference.rnn import GRU, LSTM, RNN, TemporalCrossEntropyLoss
from reference.text import clip_grad_norm


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


RNNNoTimeAccumulation = _no_time_accumulation(RNN)
LSTMNoTimeAccumulation = _no_time_accumulation(LSTM)
GRUNoTimeAccumulation = _no_time_accumulation(GRU)
