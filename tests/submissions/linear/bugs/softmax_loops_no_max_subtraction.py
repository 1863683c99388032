"""softmax_loss_loops exponentiates the raw scores: exp overflows for scores in the thousands."""
# file: linear.py
# affects: linear.softmax.loops
# clause: linear-stable


def softmax_loss_loops(W, X, y, reg):
    n, c = X.shape[0], W.shape[1]
    dW = np.zeros_like(W)
    loss = 0.0
    for i in range(n):
        e = np.exp(X[i] @ W)
        p = e / e.sum()
        loss = loss - np.log(p[y[i]])
        for j in range(c):
            dW[:, j] += (p[j] - (j == y[i])) * X[i]
    return loss / n + reg * (W * W).sum(), dW / n + 2 * reg * W
