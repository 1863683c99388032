"""Reference implementations for the `linear` assignment (the contract is docs/contracts.md).

Logistic regression by gradient descent, and linear classifiers (multiclass SVM, softmax) with
L2 regularisation `reg * sum(W * W)`. NumPy/CuPy agnostic; values and gradients have the dtype
of the weights and data; inputs are never modified. The `*_loops` names are the same functions:
students write loops there, the reference needs none (tests/reference/test_linear.py checks the
vectorised code against loop versions).
"""
from .backend import get_array_module


# --------------------------------------------------------------------------- logistic regression
def sigmoid(z):
    """Logistic function 1 / (1 + exp(-z)), elementwise, without overflow for any z.

    Shapes: z any -> same. dtype: that of z.
    """
    xp = get_array_module(z)
    e = xp.exp(-abs(z))  # in (0, 1]: never overflows
    return xp.where(z >= 0, 1 / (1 + e), e / (1 + e))


def _softplus(z):
    """log(1 + exp(z)) without overflow for any z."""
    xp = get_array_module(z)
    return xp.maximum(z, 0) + xp.log1p(xp.exp(-abs(z)))


def _scalar(value, like):
    return get_array_module(like).asarray(value, dtype=like.dtype)


def logistic_mse_loss(w, b, X, y):
    """Mean squared error of a logistic model and its gradients.

    Shapes: w (D,), b (), X (N, D), y (N,) -> (loss (), dw (D,), db ()). dtype: that of X.
    Notes: p = sigmoid(X @ w + b), loss = (1/N) sum_n (p_n - y_n)^2;
    dz = 2 (p - y) p (1 - p) / N, dw = X^T dz, db = sum dz.
    """
    p = sigmoid(X @ w + b)
    d = p - y
    n = X.shape[0]
    dz = 2 * d * p * (1 - p) / n
    return _scalar((d * d).sum() / n, X), X.T @ dz, _scalar(dz.sum(), X)


def logistic_log_loss(w, b, X, y):
    """Log loss (binary cross-entropy) of a logistic model and its gradients, stable for any z.

    Shapes: w (D,), b (), X (N, D), y (N,) -> (loss (), dw (D,), db ()). dtype: that of X.
    Notes: z = X @ w + b, loss = -(1/N) sum_n [y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))]
    = (1/N) sum_n softplus(z) - y z; dz = (sigmoid(z) - y) / N, dw = X^T dz, db = sum dz.
    """
    z = X @ w + b
    n = X.shape[0]
    dz = (sigmoid(z) - y) / n
    return _scalar((_softplus(z) - y * z).sum() / n, X), X.T @ dz, _scalar(dz.sum(), X)


def gd_step(w, b, dw, db, lr):
    """One gradient-descent step: (w - lr * dw, b - lr * db), as new arrays.

    Shapes: w, dw (D,); b, db () -> (w (D,), b ()). dtype: that of w.
    """
    xp = get_array_module(w)
    return (w - lr * dw).astype(w.dtype, copy=False), xp.asarray(b - lr * db, dtype=w.dtype)


# --------------------------------------------------------------------------- linear classifiers
def _regularised(data_loss, dscores, W, X, reg):
    """(data_loss + reg * sum(W*W), X^T dscores + 2 reg W) in W's dtype."""
    loss = data_loss + reg * (W * W).sum()
    dW = X.T @ dscores + (2 * reg) * W
    return _scalar(loss, W), dW.astype(W.dtype, copy=False)


def svm_loss(W, X, y, reg):
    """Multiclass SVM (hinge, margin 1) loss of a linear classifier, with L2 regularisation.

    Shapes: W (D, C), X (N, D), y (N,) int -> (loss (), dW (D, C)). dtype: that of W.
    Notes: s = X @ W, L_n = sum_{j != y_n} max(0, s_nj - s_ny + 1),
    loss = (1/N) sum_n L_n + reg * sum(W * W). Only margins > 0 (strictly) count in the
    gradient: dW[:, j] += x_n, dW[:, y_n] -= x_n for each of them (then / N, + 2 reg W).
    """
    xp = get_array_module(W)
    n = X.shape[0]
    s = X @ W
    rows = xp.arange(n)
    margins = s - s[rows, y][:, None] + 1
    margins[rows, y] = 0
    positive = margins > 0
    data_loss = xp.where(positive, margins, 0).sum() / n
    ds = positive.astype(W.dtype)
    ds[rows, y] = -ds.sum(axis=1)
    return _regularised(data_loss, ds / n, W, X, reg)


def softmax_loss(W, X, y, reg):
    """Softmax (cross-entropy) loss of a linear classifier, with L2 regularisation, stable.

    Shapes: W (D, C), X (N, D), y (N,) int -> (loss (), dW (D, C)). dtype: that of W.
    Notes: s = X @ W, L_n = -log softmax(s_n)[y_n] (with the row max subtracted first),
    loss = (1/N) sum_n L_n + reg * sum(W * W); dW = X^T (P - Y) / N + 2 reg W.
    """
    xp = get_array_module(W)
    n = X.shape[0]
    s = X @ W
    z = s - s.max(axis=1, keepdims=True)
    logp = z - xp.log(xp.exp(z).sum(axis=1, keepdims=True))
    rows = xp.arange(n)
    ds = xp.exp(logp)
    ds[rows, y] -= 1
    return _regularised(-logp[rows, y].sum() / n, ds / n, W, X, reg)


svm_loss_loops = svm_loss
softmax_loss_loops = softmax_loss
LOSSES = {"svm": svm_loss, "softmax": softmax_loss}


def predict(W, X):
    """Predicted classes: argmax over classes of X @ W, the lowest index on ties.

    Shapes: W (D, C), X (N, D) -> (N,) int64.
    """
    xp = get_array_module(W)
    return (X @ W).argmax(axis=1).astype(xp.int64)


def train_sgd(W, X, y, *, loss="softmax", reg=0.0, lr=1e-3, batch_size=200, steps=100, rng):
    """Minibatch SGD from W: each step draws `idx = rng.integers(0, N, size=batch_size)` (with
    replacement) and moves W by -lr times the gradient of `loss` on that batch.

    Shapes: W (D, C), X (N, D), y (N,) int -> (W (D, C), history (steps,)). dtype: that of W.
    history[t] is the (regularised) batch loss of step t, before its update.
    """
    xp = get_array_module(W)
    fn = LOSSES[loss]
    history = xp.zeros(steps, dtype=W.dtype)
    for t in range(steps):
        idx = rng.integers(0, X.shape[0], size=batch_size)
        value, dW = fn(W, X[idx], y[idx], reg)
        history[t] = value
        W = W - lr * dW
    return W, history
