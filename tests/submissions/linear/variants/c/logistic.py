import numpy as np


def sigmoid(z):
    # tanh form: 1 / (1 + exp(-z)) == (1 + tanh(z / 2)) / 2, and tanh never overflows
    half = np.asarray(z) * 0.5
    return 0.5 + 0.5 * np.tanh(half)


def logistic_mse_loss(w, b, X, y):
    count = X.shape[0]
    activation = sigmoid(np.einsum("nd,d->n", X, w) + b)
    residual = activation - y
    slope = activation * (1 - activation)
    upstream = residual * slope * (2 / count)
    grad_w = np.einsum("n,nd->d", upstream, X)
    return np.einsum("n,n->", residual, residual) / count, grad_w, upstream.sum()


def logistic_log_loss(w, b, X, y):
    count = X.shape[0]
    z = np.einsum("nd,d->n", X, w) + b
    neg_log_p = np.logaddexp(0, -z)       # -log sigmoid(z)
    neg_log_q = np.logaddexp(0, z)        # -log (1 - sigmoid(z))
    total = (y * neg_log_p + (1 - y) * neg_log_q).sum()
    upstream = (sigmoid(z) - y) / count
    return total / count, np.einsum("n,nd->d", upstream, X), upstream.sum()


def gd_step(w, b, dw, db, lr):
    step_w, step_b = lr * dw, lr * db
    return np.subtract(w, step_w), np.subtract(b, step_b)
