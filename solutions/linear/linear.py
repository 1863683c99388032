"""Linear classifiers: the multiclass SVM and softmax losses, prediction, minibatch SGD.

A linear classifier scores each class with one matrix product, s = X @ W. The bias trick: X
(N, D+1) ends with a column of ones (`append_bias`) and W (D+1, C) ends with the bias row, so
s = x @ W[:-1] + W[-1]. Labels y (N,) are integers in [0, C).

Both losses are the batch mean of per-sample losses plus L2 regularisation of the whole W
(bias row included), with no 1/2 in front:

    loss = (1/N) sum_n L_n + reg * sum(W * W)

and each returns dW (D, C), the gradient of that whole loss (regularisation included) with
respect to W.

Write each loss twice: with explicit loops over samples and classes (`*_loops`, the textbook
version: slow, easy to get right) and vectorised (no Python loop over samples or classes). Check
one against the other and both against finite differences (`gradient_check`). Every function is
pure (new arrays, inputs never written into) and keeps the dtype of W (float32 in, float32
out). Plain NumPy calls only, which CuPy also offers.
"""
import numpy as np


def append_bias(X):
    """X (N, D) -> (N, D+1) with a last column of ones, in X's dtype. (Given code.)"""
    return np.concatenate([X, np.ones((X.shape[0], 1), dtype=X.dtype)], axis=1)


def svm_loss_loops(W, X, y, reg):
    """Multiclass SVM loss and gradient, with loops over samples and classes.

    Shapes: W (D, C), X (N, D), y (N,) int -> (loss (), dW (D, C)). dtype: that of W.
    Notes: s = x_n @ W, L_n = sum_{j != y_n} max(0, s_j - s_{y_n} + 1). Convention at the
    kink: a margin s_j - s_{y_n} + 1 of exactly 0 is inactive (it adds nothing to the loss nor
    to the gradient); only margins > 0 count.
    """
    # BEGIN SOLUTION
    n, c = X.shape[0], W.shape[1]
    dW = np.zeros_like(W)
    loss = 0.0
    for i in range(n):
        s = X[i] @ W
        for j in range(c):
            if j == y[i]:
                continue
            margin = s[j] - s[y[i]] + 1
            if margin > 0:
                loss = loss + margin
                dW[:, j] += X[i]
                dW[:, y[i]] -= X[i]
    loss = loss / n + reg * (W * W).sum()
    return loss, dW / n + 2 * reg * W
    # END SOLUTION


def svm_loss(W, X, y, reg):
    """Multiclass SVM loss and gradient, vectorised (same contract as `svm_loss_loops`).

    Hint: the margins of all samples and classes at once are s - s[arange(N), y][:, None] + 1;
    zero the correct classes' entries. Then find the gradient of the loss with respect to the
    scores s (N, C), and dW from it with one matrix product.
    """
    # BEGIN SOLUTION
    n = X.shape[0]
    rows = np.arange(n)
    s = X @ W
    margins = s - s[rows, y][:, None] + 1
    margins[rows, y] = 0
    positive = margins > 0
    ds = positive.astype(W.dtype)
    ds[rows, y] = -ds.sum(axis=1)
    loss = (margins * positive).sum() / n + reg * (W * W).sum()
    return loss, X.T @ ds / n + 2 * reg * W
    # END SOLUTION


def softmax_loss_loops(W, X, y, reg):
    """Softmax (cross-entropy) loss and gradient, with loops over samples and classes.

    Shapes: W (D, C), X (N, D), y (N,) int -> (loss (), dW (D, C)). dtype: that of W.
    Notes: s = x_n @ W, L_n = -log(exp(s_{y_n}) / sum_j exp(s_j)). Subtract max_j s_j first
    (it changes nothing mathematically), so scores in the thousands give no overflow.
    """
    # BEGIN SOLUTION
    n, c = X.shape[0], W.shape[1]
    dW = np.zeros_like(W)
    loss = 0.0
    for i in range(n):
        s = X[i] @ W
        s = s - s.max()
        log_sum = np.log(np.exp(s).sum())
        loss = loss + log_sum - s[y[i]]
        for j in range(c):
            p = np.exp(s[j] - log_sum)
            dW[:, j] += (p - (j == y[i])) * X[i]
    loss = loss / n + reg * (W * W).sum()
    return loss, dW / n + 2 * reg * W
    # END SOLUTION


def softmax_loss(W, X, y, reg):
    """Softmax loss and gradient, vectorised (same contract as `softmax_loss_loops`).

    Hint: find the gradient of the mean loss with respect to the scores (N, C) first, then dW
    from it with one matrix product.
    """
    # BEGIN SOLUTION
    n = X.shape[0]
    rows = np.arange(n)
    s = X @ W
    z = s - s.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    ds = np.exp(log_p)
    ds[rows, y] -= 1
    loss = -log_p[rows, y].sum() / n + reg * (W * W).sum()
    return loss, X.T @ ds / n + 2 * reg * W
    # END SOLUTION


def predict(W, X):
    """The predicted class of each sample: the argmax of its scores X @ W.

    Shapes: W (D, C), X (N, D) -> (N,) int64. Ties go to the lowest class index (np.argmax).
    """
    # BEGIN SOLUTION
    return (X @ W).argmax(axis=1).astype(np.int64)
    # END SOLUTION


def train_sgd(W, X, y, *, loss="softmax", reg=0.0, lr=1e-3, batch_size=200, steps=100, rng):
    """Minibatch stochastic gradient descent from W.

    Shapes: W (D, C), X (N, D), y (N,) int -> (W (D, C), history (steps,)). dtype: that of W.
    `loss` names the loss: "svm" (`svm_loss`) or "softmax" (`softmax_loss`); `rng` is a
    numpy.random.Generator.
    Each step t: idx = rng.integers(0, N, size=batch_size) (with replacement; exactly this
    call, once per step, so the grader can replay your batches); history[t] = the loss on
    (X[idx], y[idx]) with `reg`, before the update; W = W - lr * dW. Returns the final W as a
    new array (the W given is not modified) and history.
    """
    # BEGIN SOLUTION
    fn = {"svm": svm_loss, "softmax": softmax_loss}[loss]
    history = np.zeros(steps, dtype=W.dtype)
    for t in range(steps):
        idx = rng.integers(0, X.shape[0], size=batch_size)
        value, dW = fn(W, X[idx], y[idx], reg)
        history[t] = value
        W = W - lr * dW
    return W, history
    # END SOLUTION


def gradient_check(f, W, dW, *, num=10, h=1e-5, rng=None):
    """Compare dW with central differences of f at `num` random entries of W. (Given code.)

    `f(W)` returns the loss (a scalar). Returns the largest relative error
    |numerical - analytic| / max(|numerical| + |analytic|, 1e-12); in float64, a correct
    gradient gives about 1e-7 or less (SVM: a little more when a margin sits near 0, its kink).

        f = lambda W_: svm_loss_loops(W_, X, y, reg)[0]
        print(gradient_check(f, W, svm_loss_loops(W, X, y, reg)[1]))
    """
    rng = np.random.default_rng(0) if rng is None else rng
    W = np.array(W, dtype=np.float64)
    worst = 0.0
    for _ in range(num):
        i = tuple(int(rng.integers(0, n)) for n in W.shape)
        old = W[i]
        W[i] = old + h
        plus = float(f(W))
        W[i] = old - h
        minus = float(f(W))
        W[i] = old
        numerical, analytic = (plus - minus) / (2 * h), float(dW[i])
        worst = max(worst, abs(numerical - analytic) / max(abs(numerical) + abs(analytic), 1e-12))
    return worst
