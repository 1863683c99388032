# From the `rnn` assignment: this is the stub of its rnn.py. Copy your own
# rnn/rnn.py over this file (`dlgrade check` names it while it is still the stub).
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
        # YOUR CODE HERE
        raise NotImplementedError

    def backward(self, dy, cache):
        """The gradient with respect to W; the integer indices have none (dx is None).

        Shapes: dy (N, T, D) -> (None, {"W": (V, D)}). dtype: that of dy.
        Hint: an index may occur several times in a batch; `dW[idx] += ...` does not accumulate
        repeated indices, `np.add.at` does.
        """
        # YOUR CODE HERE
        raise NotImplementedError


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
        # YOUR CODE HERE
        raise NotImplementedError

    def step_backward(self, dh_next, cache):
        """Gradients of one step with respect to x_t, h and the parameters, given dh_next.

        Shapes: dh_next (N, H) -> dx_t (N, D), dh (N, H);
        grads {"Wx": (D, H), "Wh": (H, H), "b": (H,)}.
        """
        # YOUR CODE HERE
        raise NotImplementedError

    def forward(self, x, params, *, train=False, rng=None, state=None):
        """All T steps; returns every hidden state. Updates `state["h"]` when state is given.

        Hint: compute x @ Wx + b for all steps at once, then loop over t for the h Wh part.
        """
        # YOUR CODE HERE
        raise NotImplementedError

    def backward(self, dhs, cache):
        """Backpropagation through time.

        Shapes: dhs (N, T, H) -> dx (N, T, D); grads {"Wx": (D, H), "Wh": (H, H), "b": (H,)}.
        Hint: walk t from T-1 down to 0; the hidden state h_t is used by the output (dhs[:, t])
        and by step t+1.
        """
        # YOUR CODE HERE
        raise NotImplementedError


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
        # YOUR CODE HERE
        raise NotImplementedError

    def step_backward(self, dh_next, cache):
        """Gradients of one step; dh_next = (dh', dc') and dh = (dh, dc).

        Shapes: dh' and dc' (N, H) -> dx_t (N, D), dh and dc (N, H);
        grads {"Wx": (D, 4H), "Wh": (H, 4H), "b": (4H,)}.
        Notes: the cell state c' has two consumers, h' and the next step.
        """
        # YOUR CODE HERE
        raise NotImplementedError

    def forward(self, x, params, *, train=False, rng=None, state=None):
        """All T steps; returns every hidden state. Updates `state["h"]` and `state["c"]`.

        Hint: compute x @ Wx + b for all steps at once; store each step's activated gates,
        cell state and tanh(cell state) for backward.
        """
        # YOUR CODE HERE
        raise NotImplementedError

    def backward(self, dhs, cache):
        """Backpropagation through time, carrying dh and dc from step t+1 to step t.

        Shapes: dhs (N, T, H) -> dx (N, T, D); grads {"Wx": (D, 4H), "Wh": (H, 4H), "b": (4H,)}.
        """
        # YOUR CODE HERE
        raise NotImplementedError


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
        # YOUR CODE HERE
        raise NotImplementedError

    def step_backward(self, dh_next, cache):
        """Gradients of one step.

        Shapes: dh_next (N, H) -> dx_t (N, D), dh (N, H);
        grads {"Wx": (D, 3H), "Wh": (H, 3H), "bx": (3H,), "bh": (3H,)}.
        Notes: r multiplies (h Wh_n + bh_n) but not (x Wx_n + bx_n), so the n blocks of the
        two sides get different gradients; h reaches h_next directly (through z * h) and
        through h Wh.
        """
        # YOUR CODE HERE
        raise NotImplementedError

    def forward(self, x, params, *, train=False, rng=None, state=None):
        """All T steps; returns every hidden state. Updates `state["h"]` when state is given.

        Hint: x @ Wx + bx for all steps at once; h @ Wh + bh (one product) at every step.
        """
        # YOUR CODE HERE
        raise NotImplementedError

    def backward(self, dhs, cache):
        """Backpropagation through time.

        Shapes: dhs (N, T, H) -> dx (N, T, D);
        grads {"Wx": (D, 3H), "Wh": (H, 3H), "bx": (3H,), "bh": (3H,)}.
        """
        # YOUR CODE HERE
        raise NotImplementedError


# ----------------------------------------------------------------------------- outputs
class TemporalLinear(Linear):
    """`Linear` applied at every time step: y = x @ W + b over the last axis.

    Shapes: x (N, T, D) -> y (N, T, M); W (D, M); b (M,). dtype: that of x.
    Hint: reshape to (N * T, D) and reuse `Linear`, then reshape back.
    """

    def forward(self, x, params, *, train=False, rng=None, state=None):
        # YOUR CODE HERE
        raise NotImplementedError

    def backward(self, dy, cache):
        """Shapes: dy (N, T, M) -> dx (N, T, D); grads {"W": (D, M), "b": (M,)}."""
        # YOUR CODE HERE
        raise NotImplementedError


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
        # YOUR CODE HERE
        raise NotImplementedError

    def backward(self, cache):
        """dscores (N, T, V), the gradient of the loss; 0 at the masked positions."""
        # YOUR CODE HERE
        raise NotImplementedError
