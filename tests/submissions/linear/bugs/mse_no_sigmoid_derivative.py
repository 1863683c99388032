"""The MSE gradient stops at p: dz = 2 (p - y) / N, without the sigmoid's derivative p (1 - p)."""
# file: logistic.py
# affects: linear.logistic.mse_loss
# clause: logistic-gradients


def logistic_mse_loss(w, b, X, y):
    p = sigmoid(X @ w + b)
    d = p - y
    dz = 2 * d / X.shape[0]
    return (d * d).sum() / X.shape[0], X.T @ dz, dz.sum()
