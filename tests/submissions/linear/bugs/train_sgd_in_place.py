"""train_sgd updates W in place (W -= lr * dW): the caller's starting weights change."""
# file: linear.py
# affects: linear.train_sgd
# clause: pure


def train_sgd(W, X, y, *, loss="softmax", reg=0.0, lr=1e-3, batch_size=200, steps=100, rng):
    history = np.zeros(steps, dtype=W.dtype)
    for t in range(steps):
        idx = rng.integers(0, X.shape[0], size=batch_size)
        history[t], dW = {"svm": svm_loss, "softmax": softmax_loss}[loss](W, X[idx], y[idx], reg)
        W -= lr * dW
    return W, history
