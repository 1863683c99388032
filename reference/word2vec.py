"""Reference word2vec for the `rnn` curriculum: skip-gram with negative sampling (SGNS).

NumPy/CuPy agnostic; outputs and gradients in the dtype of the parameters; inputs never modified.
"""
from .backend import get_array_module
from .layers import _sigmoid
from .rnn import _add_rows


def _softplus(x):
    """log(1 + exp(x)) without overflow for any x."""
    xp = get_array_module(x)
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-abs(x)))


def sgns_loss(center, context, negatives, params):
    """Skip-gram negative-sampling loss and its dense gradients.

    Shapes: center (B,), context (B,), negatives (B, K) int; params W_in (V, D) (centre
    vectors v), W_out (V, D) (context vectors u) -> (loss (), grads {"W_in": (V, D),
    "W_out": (V, D)}). dtype: that of the params.
    Notes: loss = (1/B) sum_b -[log sig(u_o . v_c) + sum_k log sig(-u_k . v_c)], computed as
    softplus(-u_o . v_c) + sum_k softplus(u_k . v_c). With s = u_o . v_c and s_k = u_k . v_c:
    dv_c = (sig(s) - 1) u_o + sum_k sig(s_k) u_k, du_o = (sig(s) - 1) v_c,
    du_k = sig(s_k) v_c (all / B); repeated indices accumulate.
    """
    xp = get_array_module(params["W_in"])
    W_in, W_out = params["W_in"], params["W_out"]
    B = center.shape[0]
    v, u_o, u_k = W_in[center], W_out[context], W_out[negatives]  # (B, D), (B, D), (B, K, D)
    pos = (u_o * v).sum(axis=-1)  # (B,)
    neg = xp.einsum("bkd,bd->bk", u_k, v)  # (B, K)
    loss = (_softplus(-pos).sum() + _softplus(neg).sum()) / B
    dpos = (_sigmoid(pos) - 1) / B
    dneg = _sigmoid(neg) / B
    dv = dpos[:, None] * u_o + xp.einsum("bk,bkd->bd", dneg, u_k)
    du = xp.concatenate([dpos[:, None] * v, (dneg[:, :, None] * v[:, None, :]).reshape(-1, v.shape[-1])])
    idx_out = xp.concatenate([context.reshape(-1), negatives.reshape(-1)])
    grads = {"W_in": _add_rows(center, dv, W_in.shape[0]), "W_out": _add_rows(idx_out, du, W_out.shape[0])}
    return xp.asarray(loss, dtype=W_in.dtype), grads


def keep_probability(counts, t=1e-3):
    """Probability of keeping each occurrence of a word under frequent-word subsampling.

    Shapes: counts (V,) -> (V,). dtype: that of counts if floating, else float64.
    Notes: z = counts / counts.sum(), p = (sqrt(z / t) + 1) * t / z, capped at 1
    (words with count 0 get 1).
    """
    xp = get_array_module(counts)
    z = counts / counts.sum()
    seen = z > 0
    zs = xp.where(seen, z, 1)
    return xp.where(seen, xp.minimum((xp.sqrt(zs / t) + 1) * t / zs, 1), 1).astype(z.dtype, copy=False)
