"""Recurrent layers for the `rnn` assignment: embeddings, RNN, LSTM and GRU, in plain NumPy.

Sequences are batch-first: x (N, T, D), hidden size H, vocabulary size V. Every layer follows
the contract of `layers.Layer`: the object holds only hyperparameters, parameters travel as a
dict, `forward` returns `(y, cache)` and only the same layer's `backward` reads the cache.
Outputs and gradients have the dtype of `x` (of `W` for `Embedding`, whose input is integer).

A recurrent layer maps a whole sequence, `forward(x (N, T, D)) -> hs (N, T, H)`, and
`backward(dhs (N, T, H)) -> (dx (N, T, D), grads)` backpropagates through time: `dhs` holds the
upstream gradient of every hidden state, to which the gradient flowing back from step t + 1 is
added. `state`, when given, carries the hidden state between calls: `state["h"]` (and
`state["c"]` for the LSTM) is the initial state, zeros when missing, and is replaced by the
final state after the call; no gradient flows into it (truncated backpropagation through time).

`step(x_t, h, params) -> (h_next, cache)` and `step_backward(dh_next, cache) -> (dx_t, dh, grads)`
are one time step and its gradient, graded on their own (for the LSTM, `h`, `h_next`, `dh_next`
and `dh` are pairs `(h, c)`).

Speed matters when you train: loop over time only, never over samples, and keep the work in
large matrix products. The input projection x @ Wx of all T steps is one product before the
loop; in backward, whatever does not need the step-by-step recursion can likewise be one
product after the loop.
"""
import numpy as np

try:  # imported as part of a package
    from .backend import array_module
    from .layers import Layer, Linear
    from .losses import Loss
except ImportError:  # imported as a top-level module, with this folder on sys.path
    from backend import array_module
    from layers import Layer, Linear
    from losses import Loss


def sigmoid(x):
    """Logistic function 1 / (1 + exp(-x)), written with tanh so that it never overflows.
    (Given code.)"""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _uniform(rng, k, shape):
    """U(-k, k) of `shape`, float64: PyTorch's initialisation of its recurrent layers."""
    return rng.uniform(-k, k, size=shape)


# ----------------------------------------------------------------------------- embedding
class Embedding(Layer):
    """Lookup table: row idx of W for every index, y = W[idx].

    Shapes: idx (N, T) integers in [0, V) -> y (N, T, D); W (V, D). dtype: that of W.
    """

    def __init__(self, *, num_embeddings, embedding_dim):
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim

    def init_params(self, rng):
        """W (V, D) from N(0, 1), float64, as PyTorch's `nn.Embedding`."""
        return {"W": rng.standard_normal((self.num_embeddings, self.embedding_dim))}

    def forward(self, x, params, *, train=False, rng=None, state=None):
        """y = W[x] (fancy indexing gathers one row per index)."""
        # BEGIN SOLUTION
        W = params["W"]
        return W[x], (x, W.shape)
        # END SOLUTION

    def backward(self, dy, cache):
        """The gradient with respect to W; the integer indices have none (dx is None).

        Shapes: dy (N, T, D) -> (None, {"W": (V, D)}). dtype: that of dy.
        Hint: an index may occur several times in a batch; `dW[idx] += ...` does not accumulate
        repeated indices, `np.add.at` does.
        """
        # BEGIN SOLUTION
        idx, (V, D) = cache
        dW = array_module(dy).zeros((V, D), dtype=dy.dtype)
        np.add.at(dW, idx.reshape(-1), dy.reshape(-1, D))
        return None, {"W": dW}
        # END SOLUTION


# ----------------------------------------------------------------------------- vanilla RNN
class RNN(Layer):
    """Elman recurrent layer: h_t = tanh(x_t Wx + h_{t-1} Wh + b).

    Shapes: x (N, T, D) -> hs (N, T, H); Wx (D, H); Wh (H, H); b (H,). dtype: that of x.
    `state["h"]` (N, H): the initial hidden state (zeros when missing), replaced by the last.
    """

    def __init__(self, *, input_size, hidden_size):
        self.input_size = input_size
        self.hidden_size = hidden_size

    def init_params(self, rng):
        """Every parameter from U(-1/sqrt(H), 1/sqrt(H)), float64, as PyTorch's `nn.RNN`."""
        D, H = self.input_size, self.hidden_size
        k = 1.0 / np.sqrt(H)
        return {"Wx": _uniform(rng, k, (D, H)), "Wh": _uniform(rng, k, (H, H)),
                "b": _uniform(rng, k, (H,))}

    def step(self, x_t, h, params):
        """One step h_next = tanh(x_t Wx + h Wh + b).

        Shapes: x_t (N, D), h (N, H) -> h_next (N, H).
        """
        # BEGIN SOLUTION
        h_next = np.tanh(x_t @ params["Wx"] + h @ params["Wh"] + params["b"])
        return h_next, (x_t, h, h_next, params["Wx"], params["Wh"])
        # END SOLUTION

    def step_backward(self, dh_next, cache):
        """Gradients of one step with respect to x_t, h and the parameters, given dh_next.

        Shapes: dh_next (N, H) -> dx_t (N, D), dh (N, H);
        grads {"Wx": (D, H), "Wh": (H, H), "b": (H,)}.
        """
        # BEGIN SOLUTION
        x_t, h, h_next, Wx, Wh = cache
        da = dh_next * (1.0 - h_next * h_next)
        grads = {"Wx": x_t.T @ da, "Wh": h.T @ da, "b": da.sum(axis=0)}
        return da @ Wx.T, da @ Wh.T, grads
        # END SOLUTION

    def forward(self, x, params, *, train=False, rng=None, state=None):
        """All T steps; returns every hidden state. Updates `state["h"]` when state is given.

        Hint: compute x @ Wx + b for all steps at once, then loop over t for the h Wh part.
        """
        # BEGIN SOLUTION
        xp = array_module(x)
        N, T, D = x.shape
        H = self.hidden_size
        Wx, Wh, b = (params[k].astype(x.dtype, copy=False) for k in ("Wx", "Wh", "b"))
        h0 = xp.zeros((N, H), dtype=x.dtype)
        if state is not None and "h" in state:
            h0 = state["h"].astype(x.dtype, copy=False)
        xa = (x.reshape(N * T, D) @ Wx + b).reshape(N, T, H)    # input part of every step
        hs = xp.empty((N, T, H), dtype=x.dtype)
        h = h0
        for t in range(T):
            h = np.tanh(xa[:, t] + h @ Wh)
            hs[:, t] = h
        if state is not None:
            state["h"] = h
        return hs, (x, h0, hs, Wx, Wh)
        # END SOLUTION

    def backward(self, dhs, cache):
        """Backpropagation through time.

        Shapes: dhs (N, T, H) -> dx (N, T, D); grads {"Wx": (D, H), "Wh": (H, H), "b": (H,)}.
        Hint: walk t from T-1 down to 0; the hidden state h_t is used by the output (dhs[:, t])
        and by step t+1.
        """
        # BEGIN SOLUTION
        x, h0, hs, Wx, Wh = cache
        N, T, D = x.shape
        H = hs.shape[2]
        das = np.empty_like(hs)                # gradient of each step's pre-activation
        dh = np.zeros_like(h0)
        for t in reversed(range(T)):
            dh = dh + dhs[:, t]
            h = hs[:, t]
            das[:, t] = da = dh * (1.0 - h * h)
            dh = da @ Wh.T
        h_prev = np.concatenate([h0[:, None], hs[:, :-1]], axis=1)
        da2 = das.reshape(N * T, H)
        grads = {"Wx": x.reshape(N * T, D).T @ da2, "Wh": h_prev.reshape(N * T, H).T @ da2,
                 "b": da2.sum(axis=0)}
        return (da2 @ Wx.T).reshape(N, T, D), grads
        # END SOLUTION


# ----------------------------------------------------------------------------- LSTM
class LSTM(Layer):
    """Long short-term memory layer, gates in PyTorch's order i, f, g, o:
    a = x_t Wx + h Wh + b split into four blocks of H columns,
    c' = sigmoid(a_f) * c + sigmoid(a_i) * tanh(a_g), h' = sigmoid(a_o) * tanh(c').

    Shapes: x (N, T, D) -> hs (N, T, H); Wx (D, 4H); Wh (H, 4H); b (4H,). dtype: that of x.
    `state["h"]`, `state["c"]` (N, H): the initial hidden and cell states (zeros when
    missing), replaced by the last ones.
    """

    def __init__(self, *, input_size, hidden_size):
        self.input_size = input_size
        self.hidden_size = hidden_size

    def init_params(self, rng):
        """Every parameter from U(-1/sqrt(H), 1/sqrt(H)), float64, as PyTorch's `nn.LSTM`."""
        D, H = self.input_size, self.hidden_size
        k = 1.0 / np.sqrt(H)
        return {"Wx": _uniform(rng, k, (D, 4 * H)), "Wh": _uniform(rng, k, (H, 4 * H)),
                "b": _uniform(rng, k, (4 * H,))}

    def step(self, x_t, h, params):
        """One step from the pair h = (h, c) to h_next = (h', c').

        Shapes: x_t (N, D), h and c (N, H) -> h' and c' (N, H).
        """
        # BEGIN SOLUTION
        h, c = h
        H = self.hidden_size
        a = x_t @ params["Wx"] + h @ params["Wh"] + params["b"]
        i, f = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H])
        g, o = np.tanh(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])
        c_next = f * c + i * g
        tc = np.tanh(c_next)
        h_next = o * tc
        return (h_next, c_next), (x_t, h, c, i, f, g, o, tc, params["Wx"], params["Wh"])
        # END SOLUTION

    def step_backward(self, dh_next, cache):
        """Gradients of one step; dh_next = (dh', dc') and dh = (dh, dc).

        Shapes: dh' and dc' (N, H) -> dx_t (N, D), dh and dc (N, H);
        grads {"Wx": (D, 4H), "Wh": (H, 4H), "b": (4H,)}.
        Notes: the cell state c' has two consumers, h' and the next step.
        """
        # BEGIN SOLUTION
        dh_next, dc_next = dh_next
        x_t, h, c, i, f, g, o, tc, Wx, Wh = cache
        dc = dc_next + dh_next * o * (1.0 - tc * tc)
        da = np.concatenate([dc * g * i * (1.0 - i), dc * c * f * (1.0 - f),
                             dc * i * (1.0 - g * g), dh_next * tc * o * (1.0 - o)], axis=1)
        grads = {"Wx": x_t.T @ da, "Wh": h.T @ da, "b": da.sum(axis=0)}
        return da @ Wx.T, (da @ Wh.T, dc * f), grads
        # END SOLUTION

    def forward(self, x, params, *, train=False, rng=None, state=None):
        """All T steps; returns every hidden state. Updates `state["h"]` and `state["c"]`.

        Hint: compute x @ Wx + b for all steps at once; store each step's activated gates,
        cell state and tanh(cell state) for backward.
        """
        # BEGIN SOLUTION
        xp = array_module(x)
        N, T, D = x.shape
        H = self.hidden_size
        Wx, Wh, b = (params[k].astype(x.dtype, copy=False) for k in ("Wx", "Wh", "b"))
        state = {} if state is None else state
        h0 = state.get("h", xp.zeros((N, H), dtype=x.dtype)).astype(x.dtype, copy=False)
        c0 = state.get("c", xp.zeros((N, H), dtype=x.dtype)).astype(x.dtype, copy=False)
        xa = (x.reshape(N * T, D) @ Wx + b).reshape(N, T, 4 * H)
        gates = xp.empty((N, T, 4 * H), dtype=x.dtype)    # sigmoid(i, f), tanh(g), sigmoid(o)
        cs = xp.empty((N, T, H), dtype=x.dtype)
        tcs = xp.empty((N, T, H), dtype=x.dtype)
        hs = xp.empty((N, T, H), dtype=x.dtype)
        h, c = h0, c0
        for t in range(T):
            a = xa[:, t] + h @ Wh                          # a fresh array: activate in place
            a[:, :2 * H] = sigmoid(a[:, :2 * H])
            a[:, 2 * H:3 * H] = np.tanh(a[:, 2 * H:3 * H])
            a[:, 3 * H:] = sigmoid(a[:, 3 * H:])
            c = a[:, H:2 * H] * c + a[:, :H] * a[:, 2 * H:3 * H]
            tc = np.tanh(c)
            h = a[:, 3 * H:] * tc
            gates[:, t], cs[:, t], tcs[:, t], hs[:, t] = a, c, tc, h
        state["h"], state["c"] = h, c
        return hs, (x, h0, c0, gates, cs, tcs, hs, Wx, Wh)
        # END SOLUTION

    def backward(self, dhs, cache):
        """Backpropagation through time, carrying dh and dc from step t+1 to step t.

        Shapes: dhs (N, T, H) -> dx (N, T, D); grads {"Wx": (D, 4H), "Wh": (H, 4H), "b": (4H,)}.
        """
        # BEGIN SOLUTION
        x, h0, c0, gates, cs, tcs, hs, Wx, Wh = cache
        N, T, D = x.shape
        H = hs.shape[2]
        das = np.empty_like(gates)             # gradient of each step's pre-activations a
        dh = np.zeros_like(h0)
        dc = np.zeros_like(c0)
        for t in reversed(range(T)):
            i, f = gates[:, t, :H], gates[:, t, H:2 * H]
            g, o = gates[:, t, 2 * H:3 * H], gates[:, t, 3 * H:]
            c_prev = cs[:, t - 1] if t > 0 else c0
            tc = tcs[:, t]
            dh = dh + dhs[:, t]
            dc = dc + dh * o * (1.0 - tc * tc)
            da = das[:, t]                     # a view: the writes below fill das
            da[:, :H] = dc * g * i * (1.0 - i)
            da[:, H:2 * H] = dc * c_prev * f * (1.0 - f)
            da[:, 2 * H:3 * H] = dc * i * (1.0 - g * g)
            da[:, 3 * H:] = dh * tc * o * (1.0 - o)
            dc = dc * f
            dh = da @ Wh.T
        h_prev = np.concatenate([h0[:, None], hs[:, :-1]], axis=1)
        da2 = das.reshape(N * T, 4 * H)
        grads = {"Wx": x.reshape(N * T, D).T @ da2, "Wh": h_prev.reshape(N * T, H).T @ da2,
                 "b": da2.sum(axis=0)}
        return (da2 @ Wx.T).reshape(N, T, D), grads
        # END SOLUTION


# ----------------------------------------------------------------------------- GRU
class GRU(Layer):
    """Gated recurrent unit, blocks in PyTorch's order r, z, n:
    r = sigmoid(x Wx_r + bx_r + h Wh_r + bh_r), z likewise,
    n = tanh(x Wx_n + bx_n + r * (h Wh_n + bh_n)), h' = (1 - z) * n + z * h.

    Shapes: x (N, T, D) -> hs (N, T, H); Wx (D, 3H); Wh (H, 3H); bx, bh (3H,). dtype: that of x.
    `state["h"]` (N, H): the initial hidden state (zeros when missing), replaced by the last.
    """

    def __init__(self, *, input_size, hidden_size):
        self.input_size = input_size
        self.hidden_size = hidden_size

    def init_params(self, rng):
        """Every parameter from U(-1/sqrt(H), 1/sqrt(H)), float64, as PyTorch's `nn.GRU`."""
        D, H = self.input_size, self.hidden_size
        k = 1.0 / np.sqrt(H)
        return {"Wx": _uniform(rng, k, (D, 3 * H)), "Wh": _uniform(rng, k, (H, 3 * H)),
                "bx": _uniform(rng, k, (3 * H,)), "bh": _uniform(rng, k, (3 * H,))}

    def step(self, x_t, h, params):
        """One step h -> h_next.

        Shapes: x_t (N, D), h (N, H) -> h_next (N, H).
        """
        # BEGIN SOLUTION
        H = self.hidden_size
        ax = x_t @ params["Wx"] + params["bx"]
        ah = h @ params["Wh"] + params["bh"]
        r = sigmoid(ax[:, :H] + ah[:, :H])
        z = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])
        n = np.tanh(ax[:, 2 * H:] + r * ah[:, 2 * H:])
        h_next = (1.0 - z) * n + z * h
        return h_next, (x_t, h, r, z, n, ah[:, 2 * H:], params["Wx"], params["Wh"])
        # END SOLUTION

    def step_backward(self, dh_next, cache):
        """Gradients of one step.

        Shapes: dh_next (N, H) -> dx_t (N, D), dh (N, H);
        grads {"Wx": (D, 3H), "Wh": (H, 3H), "bx": (3H,), "bh": (3H,)}.
        Notes: r multiplies (h Wh_n + bh_n) but not (x Wx_n + bx_n), so the n blocks of the
        two sides get different gradients; h reaches h_next directly (through z * h) and
        through h Wh.
        """
        # BEGIN SOLUTION
        x_t, h, r, z, n, hn, Wx, Wh = cache
        dn = dh_next * (1.0 - z) * (1.0 - n * n)
        dr = dn * hn * r * (1.0 - r)
        dz = dh_next * (h - n) * z * (1.0 - z)
        dax = np.concatenate([dr, dz, dn], axis=1)
        dah = np.concatenate([dr, dz, dn * r], axis=1)
        grads = {"Wx": x_t.T @ dax, "Wh": h.T @ dah, "bx": dax.sum(axis=0), "bh": dah.sum(axis=0)}
        return dax @ Wx.T, dh_next * z + dah @ Wh.T, grads
        # END SOLUTION

    def forward(self, x, params, *, train=False, rng=None, state=None):
        """All T steps; returns every hidden state. Updates `state["h"]` when state is given.

        Hint: x @ Wx + bx for all steps at once; h @ Wh + bh (one product) at every step.
        """
        # BEGIN SOLUTION
        xp = array_module(x)
        N, T, D = x.shape
        H = self.hidden_size
        Wx, Wh, bx, bh = (params[k].astype(x.dtype, copy=False) for k in ("Wx", "Wh", "bx", "bh"))
        h0 = xp.zeros((N, H), dtype=x.dtype)
        if state is not None and "h" in state:
            h0 = state["h"].astype(x.dtype, copy=False)
        xa = (x.reshape(N * T, D) @ Wx + bx).reshape(N, T, 3 * H)
        gates = xp.empty((N, T, 3 * H), dtype=x.dtype)    # r, z, n
        hns = xp.empty((N, T, H), dtype=x.dtype)          # h Wh_n + bh_n
        hs = xp.empty((N, T, H), dtype=x.dtype)
        h = h0
        for t in range(T):
            ah = h @ Wh + bh
            rz = sigmoid(xa[:, t, :2 * H] + ah[:, :2 * H])
            n = np.tanh(xa[:, t, 2 * H:] + rz[:, :H] * ah[:, 2 * H:])
            h = n + rz[:, H:] * (h - n)                   # (1 - z) * n + z * h
            gates[:, t, :2 * H], gates[:, t, 2 * H:] = rz, n
            hns[:, t], hs[:, t] = ah[:, 2 * H:], h
        if state is not None:
            state["h"] = h
        return hs, (x, h0, gates, hns, hs, Wx, Wh)
        # END SOLUTION

    def backward(self, dhs, cache):
        """Backpropagation through time.

        Shapes: dhs (N, T, H) -> dx (N, T, D);
        grads {"Wx": (D, 3H), "Wh": (H, 3H), "bx": (3H,), "bh": (3H,)}.
        """
        # BEGIN SOLUTION
        x, h0, gates, hns, hs, Wx, Wh = cache
        N, T, D = x.shape
        H = hs.shape[2]
        dax = np.empty_like(gates)             # gradients of x Wx + bx, step by step
        dah = np.empty_like(gates)             # gradients of h Wh + bh
        dh = np.zeros_like(h0)
        for t in reversed(range(T)):
            r, z, n = gates[:, t, :H], gates[:, t, H:2 * H], gates[:, t, 2 * H:]
            h_prev = hs[:, t - 1] if t > 0 else h0
            dh = dh + dhs[:, t]
            dn = dh * (1.0 - z) * (1.0 - n * n)
            dax[:, t, :H] = dah[:, t, :H] = dn * hns[:, t] * r * (1.0 - r)
            dax[:, t, H:2 * H] = dah[:, t, H:2 * H] = dh * (h_prev - n) * z * (1.0 - z)
            dax[:, t, 2 * H:] = dn
            dah[:, t, 2 * H:] = dn * r
            dh = dh * z + dah[:, t] @ Wh.T
        h_prev = np.concatenate([h0[:, None], hs[:, :-1]], axis=1)
        dax2, dah2 = dax.reshape(N * T, 3 * H), dah.reshape(N * T, 3 * H)
        grads = {"Wx": x.reshape(N * T, D).T @ dax2, "Wh": h_prev.reshape(N * T, H).T @ dah2,
                 "bx": dax2.sum(axis=0), "bh": dah2.sum(axis=0)}
        return (dax2 @ Wx.T).reshape(N, T, D), grads
        # END SOLUTION


# ----------------------------------------------------------------------------- outputs
class TemporalLinear(Linear):
    """`Linear` applied at every time step: y = x @ W + b over the last axis.

    Shapes: x (N, T, D) -> y (N, T, M); W (D, M); b (M,). dtype: that of x.
    Hint: reshape to (N * T, D) and reuse `Linear`, then reshape back.
    """

    def forward(self, x, params, *, train=False, rng=None, state=None):
        # BEGIN SOLUTION
        N, T, D = x.shape
        y, cache = super().forward(x.reshape(N * T, D), params)
        return y.reshape(N, T, -1), (cache, x.shape)
        # END SOLUTION

    def backward(self, dy, cache):
        """Shapes: dy (N, T, M) -> dx (N, T, D); grads {"W": (D, M), "b": (M,)}."""
        # BEGIN SOLUTION
        cache, shape = cache
        dx, grads = super().backward(dy.reshape(-1, dy.shape[-1]), cache)
        return dx.reshape(shape), grads
        # END SOLUTION


class TemporalCrossEntropyLoss(Loss):
    """Softmax cross-entropy at every time step, softmax fused, positions whose target is
    `ignore_index` masked out: loss = mean over the unmasked (n, t) of -log softmax(s_nt)[y_nt].

    Shapes: scores (N, T, V), targets (N, T) integers in [0, V) or ignore_index -> loss ();
    dscores (N, T, V), zero at the masked positions. dtype: that of scores.
    The loss reads directly as nats per predicted character.
    """

    def __init__(self, *, ignore_index=-1):
        self.ignore_index = ignore_index

    def forward(self, scores, target):
        """Returns (loss, cache); loss is a 0-d array (0 when every position is masked)."""
        # BEGIN SOLUTION
        V = scores.shape[-1]
        s = scores.reshape(-1, V)
        y = target.reshape(-1)
        valid = y != self.ignore_index
        count = max(int(valid.sum()), 1)
        z = s - s.max(axis=1, keepdims=True)
        log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        picked = log_probs[np.arange(len(y)), np.where(valid, y, 0)]
        loss = ((-picked[valid]).sum(keepdims=True) / count).reshape(())
        return loss, (log_probs, y, valid, count, scores.shape)
        # END SOLUTION

    def backward(self, cache):
        """dscores (N, T, V), the gradient of the loss; 0 at the masked positions."""
        # BEGIN SOLUTION
        log_probs, y, valid, count, shape = cache
        dscores = np.exp(log_probs)
        rows = np.flatnonzero(valid)
        dscores[rows, y[rows]] -= 1
        dscores[~valid] = 0
        dscores /= count
        return dscores.reshape(shape)
        # END SOLUTION
