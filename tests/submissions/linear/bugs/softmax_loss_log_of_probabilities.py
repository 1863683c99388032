"""softmax_loss shifts each row by its max but takes -log of the probabilities: inf where the label's
probability underflows to 0 (a label score 1000 below its row's max)."""
# file: linear.py
# affects: linear.softmax.stable
# clause: linear-stable


def softmax_loss(W, X, y, reg):
    n = X.shape[0]
    rows = np.arange(n)
    s = X @ W
    e = np.exp(s - s.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    loss = -np.log(p[rows, y]).sum() / n + reg * (W * W).sum()
    p[rows, y] -= 1
    return loss, X.T @ p / n + 2 * reg * W
