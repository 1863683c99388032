"""Logistic regression trained by gradient descent: the lectures' first worked example.

A logistic model of binary labels y in {0, 1}: z = X @ w + b, p = sigmoid(z) = P(y = 1 | x).
Two losses, each with its gradient with respect to the weights w and the bias b, and the
gradient-descent update that trains the model. Every function is pure (it returns new arrays
and never writes into its inputs) and keeps the dtype of its inputs (float32 in, float32 out).
Plain NumPy calls only, which CuPy also offers.
"""
import numpy as np


def sigmoid(z):
    """The logistic function 1 / (1 + exp(-z)), elementwise.

    Shapes: z any -> same. dtype: that of z.
    Must not overflow or warn for any z: sigmoid(-1000) is 0 and sigmoid(1000) is 1. Hint:
    exp(-abs(z)) is always in (0, 1]; write the two halves z >= 0 and z < 0 with it.
    """
    # YOUR CODE HERE
    raise NotImplementedError


def logistic_mse_loss(w, b, X, y):
    """Mean squared error of the logistic model, and its gradients.

    Shapes: w (D,), b () (a 0-d array), X (N, D), y (N,) of 0.0 and 1.0 -> (loss (), dw (D,),
    db ()): loss and db are scalars (0-d arrays or NumPy scalars). dtype: that of X.
    Notes: p = sigmoid(X @ w + b); loss = (1/N) sum_n (p_n - y_n)^2 (no 1/2). dw and db are
    the gradients of that loss with respect to w and b: apply the chain rule through p and z.
    """
    # YOUR CODE HERE
    raise NotImplementedError


def logistic_log_loss(w, b, X, y):
    """Log loss (binary cross-entropy) of the logistic model, and its gradients.

    Shapes and dtype as `logistic_mse_loss`.
    Notes: loss = -(1/N) sum_n [y_n log p_n + (1 - y_n) log(1 - p_n)], p = sigmoid(z),
    z = X @ w + b. Stable for any z (|z| of 1000 gives a finite loss): with
    softplus(z) = log(1 + exp(z)) = max(z, 0) + log(1 + exp(-|z|)), -log p = softplus(-z) and
    -log(1 - p) = softplus(z), so the per-sample loss is softplus(z) - y z.
    dw and db are the gradients of that loss with respect to w and b.
    """
    # YOUR CODE HERE
    raise NotImplementedError


def gd_step(w, b, dw, db, lr):
    """One step of gradient descent: w - lr * dw and b - lr * db, as new arrays.

    Shapes: w, dw (D,); b, db () -> (w (D,), b ()). dtype: that of w. `lr` is a Python float.
    """
    # YOUR CODE HERE
    raise NotImplementedError


def fit_logistic(X, y, *, loss="log", lr=0.5, steps=200):
    """Full-batch gradient descent from w = 0, b = 0 with one of the losses above. (Given code.)

    Returns (w, b, history), history[t] the loss before step t. Try it on a toy problem:

        rng = np.random.default_rng(0)
        X = rng.standard_normal((200, 2)); y = (X @ [2.0, -1.0] > 0).astype(float)
        w, b, history = fit_logistic(X, y)
    """
    fn = {"log": logistic_log_loss, "mse": logistic_mse_loss}[loss]
    w, b = np.zeros(X.shape[1], dtype=X.dtype), np.zeros((), dtype=X.dtype)
    history = []
    for _ in range(steps):
        value, dw, db = fn(w, b, X, y)
        history.append(float(value))
        w, b = gd_step(w, b, dw, db, lr)
    return w, b, history
