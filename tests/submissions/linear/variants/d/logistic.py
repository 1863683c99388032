import numpy as np


def sigmoid(z):
    z = np.asarray(z)
    # both halves are computed; the one np.where drops may overflow, harmlessly
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(z < 0, np.exp(z) / (1 + np.exp(z)), 1 / (1 + np.exp(-z)))


def _scores(w, b, X):
    return X.dot(w) + b


def logistic_mse_loss(w, b, X, y):
    m = float(X.shape[0])
    yhat = sigmoid(_scores(w, b, X))
    loss = ((yhat - y) ** 2).mean()
    g = 2 * (yhat - y) / m
    g = g * yhat * (1 - yhat)
    return loss, X.T.dot(g), g.sum()


def logistic_log_loss(w, b, X, y):
    m = float(X.shape[0])
    s = _scores(w, b, X)
    # softplus(s) - y * s, with softplus written the stable way
    sp = np.where(s > 0, s + np.log1p(np.exp(-np.abs(s))), np.log1p(np.exp(-np.abs(s))))
    g = (sigmoid(s) - y) / m
    return (sp - y * s).mean(), X.T.dot(g), g.sum()


def gd_step(w, b, dw, db, lr):
    w_next = w + (-lr) * dw
    b_next = b + (-lr) * db
    return w_next, b_next
