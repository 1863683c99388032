"""train_sgd always trains with softmax_loss, whatever `loss` names."""
# file: linear.py
# affects: linear.train_sgd
# clause: sgd-loss-argument


def train_sgd(W, X, y, *, loss="softmax", reg=0.0, lr=1e-3, batch_size=200, steps=100, rng):
    history = np.zeros(steps, dtype=W.dtype)
    for t in range(steps):
        idx = rng.integers(0, X.shape[0], size=batch_size)
        history[t], dW = softmax_loss(W, X[idx], y[idx], reg)
        W = W - lr * dW
    return W, history
