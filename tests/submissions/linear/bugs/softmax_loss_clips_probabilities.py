"""softmax_loss subtracts each row's max but takes -log(max(p, 1e-12)): on the scores-x1000 family a label 1000 below its row's maximum costs 27.6 instead of 1000. Finite and wrong: the feedback must not blame an overflow (a known bug whose output is inf matches no finite value)."""
# file: linear.py
# affects: linear.softmax.stable


def softmax_loss(W, X, y, reg):
    n = X.shape[0]
    rows = np.arange(n)
    s = X @ W
    e = np.exp(s - s.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    loss = -np.log(np.maximum(p[rows, y], 1e-12)).sum() / n + reg * (W * W).sum()
    p[rows, y] -= 1
    return loss, X.T @ p / n + 2 * reg * W
