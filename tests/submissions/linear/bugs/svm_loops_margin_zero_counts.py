"""svm_loss_loops counts margins >= 0: a margin of exactly 0 adds x to the gradient."""
# file: linear.py
# affects: linear.svm.loops
# clause: svm-strict-margin


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
            if margin >= 0:
                loss = loss + margin
                dW[:, j] += X[i]
                dW[:, y[i]] -= X[i]
    return loss / n + reg * (W * W).sum(), dW / n + 2 * reg * W
