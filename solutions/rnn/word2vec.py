"""word2vec for the `rnn` assignment: skip-gram with negative sampling (SGNS).

Centre words have vectors v (rows of W_in), context words vectors u (rows of W_out). For a
centre word c, its observed context word o and K negative words k drawn from a noise
distribution, the loss is -[log sigmoid(u_o . v_c) + sum_k log sigmoid(-u_k . v_c)].
"""
import numpy as np


def sgns_loss(center, context, negatives, params):
    """Mean SGNS loss over B (centre, context) pairs, and its gradients.

    Shapes: center (B,), context (B,), negatives (B, K) integer word indices;
    params {"W_in": (V, D), "W_out": (V, D)} -> (loss (), grads {"W_in": (V, D), "W_out": (V, D)}).
    dtype: that of the parameters. The gradients are dense (zero rows for unused words).
    Notes: loss = (1/B) sum_b -[log sigmoid(u_o . v_c) + sum_k log sigmoid(-u_k . v_c)];
    -log sigmoid(s) = log(1 + exp(-s)) is `np.logaddexp(0, -s)`, stable for any s. A word may
    appear several times in a batch: accumulate its gradient rows (`np.add.at`).
    """
    # BEGIN SOLUTION
    W_in, W_out = params["W_in"], params["W_out"]
    B, D = center.shape[0], W_in.shape[1]
    v = W_in[center]                                   # (B, D)
    u_o = W_out[context]                               # (B, D)
    u_k = W_out[negatives]                             # (B, K, D)
    s_pos = (u_o * v).sum(axis=1)                      # (B,)
    s_neg = (u_k @ v[:, :, None])[:, :, 0]             # (B, K)
    per_pair = np.logaddexp(0, -s_pos) + np.logaddexp(0, s_neg).sum(axis=1)
    loss = (per_pair.sum(keepdims=True) / B).reshape(())
    g_pos = -0.5 * (1.0 - np.tanh(0.5 * s_pos)) / B   # d loss / d s_pos = -sigmoid(-s) / B
    g_neg = 0.5 * (1.0 + np.tanh(0.5 * s_neg)) / B    # d loss / d s_neg = sigmoid(s) / B
    dv = g_pos[:, None] * u_o + (g_neg[:, :, None] * u_k).sum(axis=1)
    dW_in = np.zeros_like(W_in)
    np.add.at(dW_in, center, dv)
    dW_out = np.zeros_like(W_out)
    np.add.at(dW_out, context, g_pos[:, None] * v)
    np.add.at(dW_out, negatives.reshape(-1), (g_neg[:, :, None] * v[:, None, :]).reshape(-1, D))
    return loss, {"W_in": dW_in, "W_out": dW_out}
    # END SOLUTION


def keep_probability(counts, t=1e-3):
    """Probability of keeping each occurrence of a word when subsampling frequent words.

    Shapes: counts (V,) -> (V,). With z = counts / counts.sum() the word's frequency,
    p = (sqrt(z / t) + 1) * t / z, capped at 1 (rare words, and unseen ones, are always kept).
    """
    # BEGIN SOLUTION
    z = counts / counts.sum()
    with np.errstate(divide="ignore"):
        p = (np.sqrt(z / t) + 1) * t / z               # inf where z == 0, capped below
    return np.minimum(p, 1.0)
    # END SOLUTION
