import numpy as np


def _reg_term(W, reg):
    return reg * float((W ** 2).sum()), 2 * reg * W


def svm_loss_loops(W, X, y, reg):
    N = X.shape[0]
    C = W.shape[1]
    L = 0.0
    G = np.zeros(W.shape, W.dtype)
    for n in range(N):
        sc = W.T.dot(X[n])
        for cl in [k for k in range(C) if k != y[n]]:
            viol = sc[cl] - sc[y[n]] + 1
            if viol <= 0:
                continue
            L += viol
            G[:, cl] += X[n]
            G[:, y[n]] -= X[n]
    r, dr = _reg_term(W, reg)
    return W.dtype.type(L / N + r), (G / N + dr).astype(W.dtype)


def svm_loss(W, X, y, reg):
    N = X.shape[0]
    sc = X.dot(W)
    truth = sc[np.arange(N), y]
    viol = sc - truth[:, np.newaxis] + 1
    viol[np.arange(N), y] = 0
    on = viol > 0
    coef = on * 1.0
    coef[np.arange(N), y] = -on.sum(1)
    r, dr = _reg_term(W, reg)
    L = viol[on].sum() / N + r
    return W.dtype.type(L), (X.T.dot(coef.astype(W.dtype)) / N + dr).astype(W.dtype)


def softmax_loss_loops(W, X, y, reg):
    N = X.shape[0]
    C = W.shape[1]
    L = 0.0
    G = np.zeros(W.shape, W.dtype)
    for n in range(N):
        sc = W.T.dot(X[n])
        m = sc.max()
        lse = m + np.log(np.sum(np.exp(sc - m)))
        L += lse - sc[y[n]]
        for cl in range(C):
            G[:, cl] += (np.exp(sc[cl] - lse) - float(cl == y[n])) * X[n]
    r, dr = _reg_term(W, reg)
    return W.dtype.type(L / N + r), (G / N + dr).astype(W.dtype)


def softmax_loss(W, X, y, reg):
    N = X.shape[0]
    sc = X.dot(W)
    m = sc.max(1)[:, np.newaxis]
    lse = m + np.log(np.exp(sc - m).sum(1))[:, np.newaxis]
    P = np.exp(sc - lse)
    L = (lse[:, 0] - sc[np.arange(N), y]).mean()
    P[np.arange(N), y] -= 1
    r, dr = _reg_term(W, reg)
    return W.dtype.type(L + r), (X.T.dot(P) / N + dr).astype(W.dtype)


def predict(W, X):
    sc = X.dot(W)
    best = np.zeros(sc.shape[0], dtype=np.int64)
    for cl in range(1, sc.shape[1]):
        best = np.where(sc[np.arange(sc.shape[0]), cl] > sc[np.arange(sc.shape[0]), best], cl, best)
    return best


def train_sgd(W, X, y, *, loss="softmax", reg=0.0, lr=1e-3, batch_size=200, steps=100, rng):
    f = svm_loss if loss == "svm" else softmax_loss
    hist = np.zeros((steps,), W.dtype)
    for k in range(steps):
        b = rng.integers(0, X.shape[0], size=batch_size)
        hist[k], g = f(W, X[b], y[b], reg)
        W = W - lr * g
    return W, hist
