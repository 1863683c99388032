import numpy as np


def sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def logistic_mse_loss(w, b, X, y):
    p = sigmoid(X @ w + b)
    d = p - y
    n = X.shape[0]
    dz = 2 * d * p * (1 - p) / n
    return (d * d).sum() / n, X.T @ dz, dz.sum()


def logistic_log_loss(w, b, X, y):
    z = X @ w + b
    n = X.shape[0]
    softplus = np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))
    loss = (softplus - y * z).sum() / n
    dz = (sigmoid(z) - y) / n
    return loss, X.T @ dz, dz.sum()


def gd_step(w, b, dw, db, lr):
    return w - lr * dw, b - lr * db
