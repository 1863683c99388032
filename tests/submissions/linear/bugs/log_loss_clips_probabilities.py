"""The log loss computed as -(y log p + (1 - y) log(1 - p)) with p clipped to [1e-7, 1 - 1e-7]: finite everywhere, but a logit of 1500 against its label costs 16.1 instead of about 1500. The feedback must not say that log(sigmoid(z)) is -inf (it is finite here)."""
# file: logistic.py
# affects: linear.logistic.log_loss.stable

_log_loss_clipped = logistic_log_loss


def logistic_log_loss(w, b, X, y):
    _, dw, db = _log_loss_clipped(w, b, X, y)
    p = np.clip(sigmoid(X @ w + b), 1e-7, 1 - 1e-7)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean(), dw, db
