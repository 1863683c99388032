"""Known bugs of the `linear` assignment, as small variants of reference/linear.py: when a
student's output matches one, the feedback names the bug. Instructor-only: never released."""
import numpy as np

from reference import linear as L
from reference.backend import get_array_module


def sigmoid_exp_ratio(z):
    xp = get_array_module(z)
    with np.errstate(over="ignore", invalid="ignore"):
        e = xp.exp(z)
        return e / (1 + e)


def mse_no_sigmoid_derivative(w, b, X, y):
    p = L.sigmoid(X @ w + b)
    dz = 2 * (p - y) / X.shape[0]
    return L.logistic_mse_loss(w, b, X, y)[0], X.T @ dz, dz.sum()


def mse_no_factor_two(w, b, X, y):
    loss, dw, db = L.logistic_mse_loss(w, b, X, y)
    return loss, dw / 2, db / 2


def log_loss_sigmoid_derivative(w, b, X, y):
    p = L.sigmoid(X @ w + b)
    dz = (p - y) * p * (1 - p) / X.shape[0]
    return L.logistic_log_loss(w, b, X, y)[0], X.T @ dz, dz.sum()


def log_loss_unstable(w, b, X, y):
    xp = get_array_module(X)
    loss, dw, db = L.logistic_log_loss(w, b, X, y)
    p = L.sigmoid(X @ w + b)
    with np.errstate(divide="ignore", invalid="ignore"):
        loss = -(y * xp.log(p) + (1 - y) * xp.log(1 - p)).mean()
    return loss, dw, db


def gd_ascent(w, b, dw, db, lr):
    return L.gd_step(w, b, -dw, -db, lr)


def svm_counts_correct_class(W, X, y, reg):
    loss, dW = L.svm_loss(W, X, y, reg)
    return loss + 1, dW


def svm_margin_zero_counts(W, X, y, reg):
    xp = get_array_module(W)
    n, rows = X.shape[0], xp.arange(X.shape[0])
    s = X @ W
    margins = s - s[rows, y][:, None] + 1
    counted = margins >= 0
    counted[rows, y] = False
    ds = counted.astype(W.dtype)
    ds[rows, y] = -ds.sum(axis=1)
    loss = xp.where(counted, margins, 0).sum() / n + reg * (W * W).sum()
    return loss, X.T @ ds / n + 2 * reg * W


def svm_reg_no_factor_two(W, X, y, reg):
    loss, dW = L.svm_loss(W, X, y, reg)
    return loss, dW - reg * W


def softmax_reg_no_factor_two(W, X, y, reg):
    loss, dW = L.softmax_loss(W, X, y, reg)
    return loss, dW - reg * W


def softmax_no_max_subtraction(W, X, y, reg):
    xp = get_array_module(W)
    n, rows = X.shape[0], xp.arange(X.shape[0])
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        e = xp.exp(X @ W)
        p = e / e.sum(axis=1, keepdims=True)
        loss = -xp.log(p[rows, y]).sum() / n + reg * (W * W).sum()
        p[rows, y] -= 1
    return loss, X.T @ p / n + 2 * reg * W


def predict_last_max(W, X):
    xp = get_array_module(W)
    s = (X @ W)[:, ::-1]
    return (s.shape[1] - 1 - s.argmax(axis=1)).astype(xp.int64)


def sgd_without_replacement(W, X, y, *, loss="softmax", reg=0.0, lr=1e-3, batch_size=200, steps=100, rng):
    xp = get_array_module(W)
    history = xp.zeros(steps, dtype=W.dtype)
    for t in range(steps):
        idx = rng.choice(X.shape[0], batch_size, replace=False)
        history[t], dW = L.LOSSES[loss](W, X[idx], y[idx], reg)
        W = W - lr * dW
    return W, history


def sgd_history_after_update(W, X, y, *, loss="softmax", reg=0.0, lr=1e-3, batch_size=200, steps=100, rng):
    xp = get_array_module(W)
    history = xp.zeros(steps, dtype=W.dtype)
    for t in range(steps):
        idx = rng.integers(0, X.shape[0], size=batch_size)
        _, dW = L.LOSSES[loss](W, X[idx], y[idx], reg)
        W = W - lr * dW
        history[t] = L.LOSSES[loss](W, X[idx], y[idx], reg)[0]
    return W, history


def softmax_global_max(W, X, y, reg):
    xp = get_array_module(W)
    n, rows = X.shape[0], xp.arange(X.shape[0])
    s = X @ W
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        e = xp.exp(s - s.max())
        p = e / e.sum(axis=1, keepdims=True)
        loss = -xp.log(p[rows, y]).sum() / n + reg * (W * W).sum()
        p[rows, y] -= 1
    return loss, X.T @ p / n + 2 * reg * W


def sgd_always_softmax(W, X, y, *, loss="softmax", reg=0.0, lr=1e-3, batch_size=200, steps=100, rng):
    return L.train_sgd(W, X, y, loss="softmax", reg=reg, lr=lr, batch_size=batch_size, steps=steps, rng=rng)
