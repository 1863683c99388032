"""train_sgd draws each batch with rng.choice(N, batch_size, replace=False): other batches than the contract's."""
# file: linear.py
# affects: linear.train_sgd
# clause: sgd-batches


def train_sgd(W, X, y, *, loss="softmax", reg=0.0, lr=1e-3, batch_size=200, steps=100, rng):
    history = np.zeros(steps, dtype=W.dtype)
    for t in range(steps):
        idx = rng.choice(X.shape[0], batch_size, replace=False)
        history[t], dW = {"svm": svm_loss, "softmax": softmax_loss}[loss](W, X[idx], y[idx], reg)
        W = W - lr * dW
    return W, history
