"""The log loss as -mean(y log p + (1 - y) log(1 - p)): log(0) once p rounds to 0 or 1 (|z| > 37)."""
# file: logistic.py
# affects: linear.logistic.log_loss.stable
# clause: linear-stable

_log_loss = logistic_log_loss


def logistic_log_loss(w, b, X, y):
    _, dw, db = _log_loss(w, b, X, y)
    p = sigmoid(X @ w + b)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean(), dw, db
