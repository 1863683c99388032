"""The log loss's gradient keeps the sigmoid's derivative: dz = (p - y) p (1 - p) / N (it cancels)."""
# file: logistic.py
# affects: linear.logistic.log_loss, linear.logistic.log_loss.stable
# clause: logistic-gradients

_log_loss = logistic_log_loss


def logistic_log_loss(w, b, X, y):
    loss, _, _ = _log_loss(w, b, X, y)
    p = sigmoid(X @ w + b)
    dz = (p - y) * p * (1 - p) / X.shape[0]
    return loss, X.T @ dz, dz.sum()
