"""softmax_loss exponentiates the raw scores (vectorised): inf and nan for scores in the thousands."""
# file: linear.py
# affects: linear.softmax.stable
# clause: linear-stable


def softmax_loss(W, X, y, reg):
    n = X.shape[0]
    rows = np.arange(n)
    e = np.exp(X @ W)
    p = e / e.sum(axis=1, keepdims=True)
    loss = -np.log(p[rows, y]).sum() / n + reg * (W * W).sum()
    p[rows, y] -= 1
    return loss, X.T @ p / n + 2 * reg * W
