import numpy as np


def sigmoid(z):
    arr = np.asarray(z)

    # numerically safe: only the selected half matters
    with np.errstate(over="ignore",
                     invalid="ignore"):
        return np.where(arr < 0,
                        np.exp(arr) / (1 + np.exp(arr)),
                        1 / (1 + np.exp(-arr)))


def _logits(weights, bias, inputs):
    return inputs.dot(weights) + bias


def logistic_mse_loss(w, b, X, y):
    num = float(X.shape[0])
    pred = sigmoid(_logits(w, b, X))
    mse = ((pred - y) ** 2).mean()
    grad = 2 * (pred - y) / num
    grad = grad * pred * (1 - pred)   # chain rule through the sigmoid
    return mse, X.T.dot(grad), grad.sum()


def logistic_log_loss(w, b, X, y):
    num = float(X.shape[0])
    logit = _logits(w, b, X)
    soft = np.where(logit > 0,
                    logit + np.log1p(np.exp(-np.abs(logit))),
                    np.log1p(np.exp(-np.abs(logit))))
    grad = (sigmoid(logit) - y) / num
    return (soft - y * logit).mean(), X.T.dot(grad), grad.sum()


def gd_step(w, b, dw, db, lr):
    new_weights = w + (-lr) * dw
    new_bias = b + (-lr) * db
    return new_weights, new_bias
