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
    # YOUR CODE HERE
    raise NotImplementedError


def keep_probability(counts, t=1e-3):
    """Probability of keeping each occurrence of a word when subsampling frequent words.

    Shapes: counts (V,) -> (V,). With z = counts / counts.sum() the word's frequency,
    p = (sqrt(z / t) + 1) * t / z, capped at 1 (rare words, and unseen ones, are always kept).
    """
    # YOUR CODE HERE
    raise NotImplementedError
