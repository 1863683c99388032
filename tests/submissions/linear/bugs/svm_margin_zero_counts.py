"""svm_loss counts margins >= 0 (vectorised): exact ties at the margin add to the gradient."""
# file: linear.py
# affects: linear.svm.ties
# clause: svm-strict-margin


def svm_loss(W, X, y, reg):
    n = X.shape[0]
    rows = np.arange(n)
    s = X @ W
    margins = s - s[rows, y][:, None] + 1
    counted = margins >= 0
    counted[rows, y] = False
    ds = counted.astype(W.dtype)
    ds[rows, y] = -ds.sum(axis=1)
    return (margins * counted).sum() / n + reg * (W * W).sum(), X.T @ ds / n + 2 * reg * W
