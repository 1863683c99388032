"""softmax_loss subtracts the batch's largest score instead of each row's: rows whose maximum is far
below it underflow to 0 / 0."""
# file: linear.py
# affects: linear.softmax.stable
# clause: linear-stable


def softmax_loss(W, X, y, reg):
    n = X.shape[0]
    rows = np.arange(n)
    s = X @ W
    e = np.exp(s - s.max())
    p = e / e.sum(axis=1, keepdims=True)
    loss = -np.log(p[rows, y]).sum() / n + reg * (W * W).sum()
    p[rows, y] -= 1
    return loss, X.T @ p / n + 2 * reg * W
