"""The log loss's softplus(z) written as max(z, 0): the log(1 + exp(-|z|)) term is dropped (exact only far from 0)."""
# file: logistic.py
# affects: linear.logistic.log_loss
# clause: logistic-losses

_log_loss = logistic_log_loss


def logistic_log_loss(w, b, X, y):
    _, dw, db = _log_loss(w, b, X, y)
    z = X @ w + b
    return (np.maximum(z, 0) - y * z).sum() / X.shape[0], dw, db
