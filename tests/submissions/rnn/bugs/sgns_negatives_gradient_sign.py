"""sgns_loss gets the sign of the negative samples' gradient wrong (d/ds of log sigma(-s) taken as +sigma(-s))."""
# file: word2vec.py
# affects: rnn.word2vec.sgns_loss
# clause: sgns

_sgns = sgns_loss


def sgns_loss(center, context, negatives, params):
    loss, grads = _sgns(center, context, negatives, params)
    W_in, W_out = params["W_in"], params["W_out"]
    B, D = len(center), W_in.shape[1]
    v, u_k = W_in[center], W_out[negatives]
    s_neg = (u_k @ v[:, :, None])[:, :, 0]
    g_neg = 0.5 * (1.0 + np.tanh(0.5 * s_neg)) / B
    dW_in, dW_out = grads["W_in"].copy(), grads["W_out"].copy()
    np.add.at(dW_in, center, -2 * (g_neg[:, :, None] * u_k).sum(axis=1))
    np.add.at(dW_out, negatives.reshape(-1), -2 * (g_neg[:, :, None] * v[:, None, :]).reshape(-1, D))
    return loss, {"W_in": dW_in, "W_out": dW_out}
