import numpy as np


def svm_loss_loops(W, X, y, reg):
    n, c = X.shape[0], W.shape[1]
    dW = np.zeros_like(W)
    loss = 0.0
    for i in range(n):
        s = X[i] @ W
        for j in range(c):
            if j == y[i]:
                continue
            margin = s[j] - s[y[i]] + 1
            if margin > 0:
                loss = loss + margin
                dW[:, j] += X[i]
                dW[:, y[i]] -= X[i]
    loss = loss / n + reg * (W * W).sum()
    return loss, dW / n + 2 * reg * W


def svm_loss(W, X, y, reg):
    n = X.shape[0]
    rows = np.arange(n)
    s = X @ W
    margins = s - s[rows, y][:, None] + 1
    margins[rows, y] = 0
    positive = margins > 0
    ds = positive.astype(W.dtype)
    ds[rows, y] = -ds.sum(axis=1)
    loss = (margins * positive).sum() / n + reg * (W * W).sum()
    return loss, X.T @ ds / n + 2 * reg * W


def softmax_loss_loops(W, X, y, reg):
    n, c = X.shape[0], W.shape[1]
    dW = np.zeros_like(W)
    loss = 0.0
    for i in range(n):
        s = X[i] @ W
        s = s - s.max()
        log_sum = np.log(np.exp(s).sum())
        loss = loss + log_sum - s[y[i]]
        for j in range(c):
            p = np.exp(s[j] - log_sum)
            dW[:, j] += (p - (j == y[i])) * X[i]
    loss = loss / n + reg * (W * W).sum()
    return loss, dW / n + 2 * reg * W


def softmax_loss(W, X, y, reg):
    n = X.shape[0]
    rows = np.arange(n)
    s = X @ W
    z = s - s.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    ds = np.exp(log_p)
    ds[rows, y] -= 1
    loss = -log_p[rows, y].sum() / n + reg * (W * W).sum()
    return loss, X.T @ ds / n + 2 * reg * W


def predict(W, X):
    return (X @ W).argmax(axis=1).astype(np.int64)


def train_sgd(W, X, y, *, loss="softmax", reg=0.0, lr=1e-3, batch_size=200, steps=100, rng):
    fn = {"svm": svm_loss, "softmax": softmax_loss}[loss]
    history = np.zeros(steps, dtype=W.dtype)
    for t in range(steps):
        idx = rng.integers(0, X.shape[0], size=batch_size)
        value, dW = fn(W, X[idx], y[idx], reg)
        history[t] = value
        W = W - lr * dW
    return W, history
