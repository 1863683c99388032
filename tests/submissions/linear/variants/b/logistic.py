import numpy as np


def sigmoid(z):
    out = np.empty_like(z, dtype=np.result_type(z, np.float32))
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def logistic_mse_loss(w, b, X, y):
    N = len(y)
    prob = sigmoid(np.dot(X, w) + b)
    err = prob - y
    loss = np.mean(err ** 2)
    grad_z = (2.0 / N) * err * prob * (1.0 - prob)
    return loss, np.dot(grad_z, X), np.sum(grad_z)


def logistic_log_loss(w, b, X, y):
    N = len(y)
    logits = np.dot(X, w) + b
    # log(1 + e^t) computed without overflow
    per_sample = np.logaddexp(0, logits) - y * logits
    grad_z = (sigmoid(logits) - y) / N
    return np.mean(per_sample), np.dot(grad_z, X), np.sum(grad_z)


def gd_step(w, b, dw, db, lr):
    new_w = w.copy()
    new_w -= lr * dw
    new_b = np.subtract(b, lr * db)
    return new_w, new_b
