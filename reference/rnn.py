"""Reference layers for the `rnn` curriculum: embeddings, recurrent layers, per-step loss.

Same contract as reference/layers.py (docs/contracts.md): keyword-only hyperparameters,
`forward(x, params, *, train, rng, state) -> (y, cache)`, `backward(dy, cache) -> (dx, grads)`,
outputs and gradients in the dtype of `x` (recurrent layers cast their params to it), inputs
never modified. Sequences are batch-first, x (N, T, D).

Recurrent layers compute every step's input projection x @ Wx + b as one matrix product, loop
over time only for the recurrence, and in backward collect the gate gradients of all steps so
that dx, dWx and dWh are again one matrix product each. `state` carries the hidden state across
calls: `state["h"]` (and `state["c"]`) is the initial state (zeros when missing) and is replaced
by the final one; no gradient flows into it.
"""
import math

from .backend import get_array_module
from .layers import Layer, Linear, _sigmoid, _xp_of
from .losses import Loss, _log_softmax, _scalar


def _add_rows(idx, values, num_rows):
    """Scatter-add: out[idx[i]] += values[i] for every i, repeated indices accumulating.

    Shapes: idx int (...), values (..., D) -> out (num_rows, D). dtype: that of values.
    Notes: one bincount over flat positions idx * D + j (NumPy and CuPy alike).
    """
    xp = get_array_module(values)
    D = values.shape[-1]
    flat = (idx.reshape(-1, 1) * D + xp.arange(D)).ravel()
    out = xp.bincount(flat, weights=values.reshape(-1).astype(xp.float64), minlength=num_rows * D)
    return out.reshape(num_rows, D).astype(values.dtype, copy=False)


class Embedding(Layer):
    """Lookup table y = W[idx].

    Shapes: idx int (N, T) (any shape) -> y (N, T, D); W (V, D). dtype: that of W.
    Notes: backward returns (None, {"W": dW}); dW adds dy into the rows that were read,
    repeated indices accumulating.
    """

    def __init__(self, *, num_embeddings, embedding_dim):
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)

    def init_params(self, rng):
        """N(0, 1) entries, as torch.nn.Embedding; float64."""
        xp = _xp_of(rng)
        return {"W": xp.asarray(rng.standard_normal((self.num_embeddings, self.embedding_dim)), dtype=xp.float64)}

    def forward(self, x, params, *, train=False, rng=None, state=None):
        W = params["W"]
        return W[x], (x % W.shape[0], W.shape[0], W.dtype)

    def backward(self, dy, cache):
        idx, V, dtype = cache
        return None, {"W": _add_rows(idx, dy, V).astype(dtype, copy=False)}


class TemporalLinear(Linear):
    """Linear applied at every time step, y = x @ W + b over the last axis.

    Shapes: x (N, T, D) -> y (N, T, M); W (D, M); b (M,). dtype: that of x.
    Notes: initialised as Linear (He normal W, zero b).
    """

    def backward(self, dy, cache):
        x, W = cache
        x2, dy2 = x.reshape(-1, x.shape[-1]), dy.reshape(-1, dy.shape[-1])
        return dy @ W.T, {"W": x2.T @ dy2, "b": dy2.sum(axis=0)}


class _Recurrent(Layer):
    """Shared machinery: whole-sequence forward/backward (BPTT) and single steps.

    A subclass sets `gates` (blocks of H columns in Wx, Wh), `biases` (the first is added to
    x @ Wx; a second one, the GRU's, to h @ Wh inside the cell) and `carry` (the state names,
    "h" first), and implements `_cell(xa, carry, p) -> (carry_next, cache)`, with
    xa = x_t @ Wx + p[biases[0]], and `_cell_backward(dcarry_next, cache) -> (dxa, dha, dcarry)`,
    with dha the gradient of h @ Wh (the same array as dxa unless, as in the GRU, the cell
    treats h @ Wh differently from x @ Wx).
    """

    gates, biases, carry = 1, ("b",), ("h",)

    def __init__(self, *, input_size, hidden_size):
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)

    def init_params(self, rng):
        """U(-1/sqrt(H), 1/sqrt(H)) for every entry, as PyTorch; float64."""
        xp, a = _xp_of(rng), 1.0 / math.sqrt(self.hidden_size)
        shapes = {"Wx": (self.input_size, self.gates * self.hidden_size),
                  "Wh": (self.hidden_size, self.gates * self.hidden_size)}
        shapes.update({name: (self.gates * self.hidden_size,) for name in self.biases})
        return {k: xp.asarray((2.0 * rng.random(s) - 1.0) * a, dtype=xp.float64) for k, s in shapes.items()}

    def _cast(self, params, dtype):
        return {k: v.astype(dtype, copy=False) for k, v in params.items()}

    def _grads(self, x, h, dxa, dha):
        """Parameter gradients from inputs, previous hidden states and gate gradients (2-D or 3-D)."""
        x, h = x.reshape(-1, x.shape[-1]), h.reshape(-1, h.shape[-1])
        dxa, dha = dxa.reshape(-1, dxa.shape[-1]), dha.reshape(-1, dha.shape[-1])
        grads = {"Wx": x.T @ dxa, "Wh": h.T @ dha, self.biases[0]: dxa.sum(axis=0)}
        if len(self.biases) == 2:
            grads[self.biases[1]] = dha.sum(axis=0)
        return grads

    def _pack(self, carry):
        return carry[0] if len(carry) == 1 else tuple(carry)

    def _unpack(self, h):
        return (h,) if len(self.carry) == 1 else tuple(h)

    def step(self, x_t, h, params):
        """One step. Shapes: x_t (N, D), h (N, H) (LSTM: a pair (h, c)) -> h_next like h."""
        p = self._cast(params, x_t.dtype)
        carry = tuple(v.astype(x_t.dtype, copy=False) for v in self._unpack(h))
        carry_next, cell = self._cell(x_t @ p["Wx"] + p[self.biases[0]], carry, p)
        return self._pack(carry_next), (x_t, carry[0], p["Wx"], cell)

    def step_backward(self, dh_next, cache):
        """Gradients of one step: (dx_t (N, D), dh like h, grads) from dh_next like h_next."""
        x_t, h, Wx, cell = cache
        dxa, dha, dcarry = self._cell_backward(self._unpack(dh_next), cell)
        return dxa @ Wx.T, self._pack(dcarry), self._grads(x_t, h, dxa, dha)

    def forward(self, x, params, *, train=False, rng=None, state=None):
        xp = get_array_module(x)
        N, T, _ = x.shape
        p = self._cast(params, x.dtype)
        state = {} if state is None else state
        zeros = xp.zeros((N, self.hidden_size), dtype=x.dtype)
        carry = tuple(state[k].astype(x.dtype, copy=False) if k in state else zeros for k in self.carry)
        xa = x @ p["Wx"] + p[self.biases[0]]  # every step's input projection at once
        hs = xp.empty((N, T + 1, self.hidden_size), dtype=x.dtype)  # hs[:, 0] the initial h
        hs[:, 0] = carry[0]
        cells = []
        for t in range(T):
            carry, cell = self._cell(xa[:, t], carry, p)
            hs[:, t + 1] = carry[0]
            cells.append(cell)
        state.update(zip(self.carry, carry))
        return hs[:, 1:].copy(), (x, hs[:, :-1], p["Wx"], cells)

    def backward(self, dhs, cache):
        xp = get_array_module(dhs)
        x, h_prev, Wx, cells = cache
        N, T, H = dhs.shape
        G = self.gates * H
        dxa = xp.empty((N, T, G), dtype=dhs.dtype)
        dha = dxa if len(self.biases) == 1 else xp.empty_like(dxa)
        dcarry = tuple(xp.zeros((N, H), dtype=dhs.dtype) for _ in self.carry)
        for t in reversed(range(T)):
            dcarry = (dcarry[0] + dhs[:, t],) + dcarry[1:]
            dxa_t, dha_t, dcarry = self._cell_backward(dcarry, cells[t])
            dxa[:, t] = dxa_t
            if dha is not dxa:
                dha[:, t] = dha_t
        return dxa @ Wx.T, self._grads(x, h_prev, dxa, dha)


class RNN(_Recurrent):
    """Elman RNN, h' = tanh(x Wx + h Wh + b), over a whole sequence (BPTT) or one step.

    Shapes: x (N, T, D) -> hs (N, T, H); Wx (D, H); Wh (H, H); b (H,). dtype: that of x.
    Notes: b plays the role of PyTorch's b_ih + b_hh. da = dh' * (1 - h'^2),
    dh = da @ Wh.T.
    """

    def _cell(self, xa, carry, p):
        h = get_array_module(xa).tanh(xa + carry[0] @ p["Wh"])
        return (h,), (h, p["Wh"])

    def _cell_backward(self, dcarry, cache):
        h, Wh = cache
        da = dcarry[0] * (1 - h * h)
        return da, da, (da @ Wh.T,)


class LSTM(_Recurrent):
    """LSTM over a whole sequence (BPTT) or one step; gates in PyTorch's order i, f, g, o.

    Shapes: x (N, T, D) -> hs (N, T, H); Wx (D, 4H); Wh (H, 4H); b (4H,); state h, c (N, H).
    dtype: that of x.
    Notes: a = x Wx + h Wh + b, c' = sig(f) c + sig(i) tanh(g), h' = sig(o) tanh(c').
    b plays the role of PyTorch's b_ih + b_hh. step takes and returns pairs (h, c).
    """

    gates, carry = 4, ("h", "c")

    def _cell(self, xa, carry, p):
        xp, H = get_array_module(xa), self.hidden_size
        h, c = carry
        a = xa + h @ p["Wh"]
        i, f, o = _sigmoid(a[:, :H]), _sigmoid(a[:, H:2 * H]), _sigmoid(a[:, 3 * H:])
        g = xp.tanh(a[:, 2 * H:3 * H])
        c_next = f * c + i * g
        tc = xp.tanh(c_next)
        return (o * tc, c_next), (i, f, g, o, c, tc, p["Wh"])

    def _cell_backward(self, dcarry, cache):
        xp = get_array_module(dcarry[0])
        dh, dc = dcarry
        i, f, g, o, c, tc, Wh = cache
        dc = dc + dh * o * (1 - tc * tc)
        da = xp.concatenate([dc * g * i * (1 - i), dc * c * f * (1 - f),
                             dc * i * (1 - g * g), dh * tc * o * (1 - o)], axis=-1)
        return da, da, (da @ Wh.T, dc * f)


class GRU(_Recurrent):
    """GRU over a whole sequence (BPTT) or one step; gates in PyTorch's order r, z, n.

    Shapes: x (N, T, D) -> hs (N, T, H); Wx (D, 3H); Wh (H, 3H); bx, bh (3H,). dtype: that of x.
    Notes: with xa = x Wx + bx and ha = h Wh + bh: r = sig(xa_r + ha_r), z = sig(xa_z + ha_z),
    n = tanh(xa_n + r * ha_n), h' = (1 - z) n + z h (PyTorch's formulas, bx = b_ih, bh = b_hh).
    """

    gates, biases = 3, ("bx", "bh")

    def _cell(self, xa, carry, p):
        xp, H = get_array_module(xa), self.hidden_size
        h = carry[0]
        ha = h @ p["Wh"] + p["bh"]
        r = _sigmoid(xa[:, :H] + ha[:, :H])
        z = _sigmoid(xa[:, H:2 * H] + ha[:, H:2 * H])
        n = xp.tanh(xa[:, 2 * H:] + r * ha[:, 2 * H:])
        return ((1 - z) * n + z * h,), (h, r, z, n, ha[:, 2 * H:], p["Wh"])

    def _cell_backward(self, dcarry, cache):
        xp = get_array_module(dcarry[0])
        dh_next = dcarry[0]
        h, r, z, n, ha_n, Wh = cache
        dan = dh_next * (1 - z) * (1 - n * n)
        dar = dan * ha_n * r * (1 - r)
        daz = dh_next * (h - n) * z * (1 - z)
        dxa = xp.concatenate([dar, daz, dan], axis=-1)
        dha = xp.concatenate([dar, daz, dan * r], axis=-1)
        return dxa, dha, (dh_next * z + dha @ Wh.T,)


class TemporalCrossEntropyLoss(Loss):
    """Cross-entropy (softmax fused) at every position, mean over the unmasked positions.

    Shapes: scores (N, T, V), targets int (N, T) -> loss (). dtype: that of scores.
    Notes: positions whose target is `ignore_index` neither count nor get a gradient:
    loss = sum_unmasked -log softmax(s)[y] / M with M the unmasked count, and
    dscores = (softmax(s) - onehot(y)) / M there, 0 elsewhere. All positions masked: loss 0.
    """

    def __init__(self, *, ignore_index=-1):
        self.ignore_index = int(ignore_index)

    def forward(self, scores, target):
        xp = get_array_module(scores)
        V = scores.shape[-1]
        logp = _log_softmax(scores).reshape(-1, V)
        y = target.reshape(-1)
        mask = y != self.ignore_index
        rows = (xp.arange(y.shape[0]), xp.where(mask, y, 0))
        count = max(int(mask.sum()), 1)
        loss = -xp.where(mask, logp[rows], 0).sum() / count
        return _scalar(loss, scores), (logp, rows, mask, count, scores.shape)

    def backward(self, cache):
        logp, rows, mask, count, shape = cache
        xp = get_array_module(logp)
        d = xp.exp(logp)
        d[rows] -= 1
        return (xp.where(mask[:, None], d, 0) / count).reshape(shape)


LAYERS = {cls.__name__: cls for cls in (Embedding, RNN, LSTM, GRU, TemporalLinear)}
