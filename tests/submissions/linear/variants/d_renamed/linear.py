import numpy as np


def _penalty(weights, strength):
    return strength * float((weights ** 2).sum()), 2 * strength * weights


def svm_loss_loops(W, X, y, reg):
    num_samples = X.shape[0]
    num_classes = W.shape[1]
    total = 0.0
    grad = np.zeros(W.shape, W.dtype)
    for s in range(num_samples):
        scores = W.T.dot(X[s])
        # every wrong class whose margin is violated
        for cls in [c for c in range(num_classes) if c != y[s]]:
            margin = scores[cls] - scores[y[s]] + 1
            if margin <= 0:
                continue
            total += margin
            grad[:, cls] += X[s]
            grad[:, y[s]] -= X[s]
    pen, dpen = _penalty(W, reg)
    return (W.dtype.type(total / num_samples + pen),
            (grad / num_samples + dpen).astype(W.dtype))


def svm_loss(W, X, y, reg):
    num_samples = X.shape[0]
    scores = X.dot(W)
    correct = scores[np.arange(num_samples), y]
    margin = scores - correct[:, np.newaxis] + 1
    margin[np.arange(num_samples), y] = 0
    active = margin > 0
    weight = active * 1.0
    weight[np.arange(num_samples), y] = -active.sum(1)
    pen, dpen = _penalty(W, reg)
    total = margin[active].sum() / num_samples + pen
    return (W.dtype.type(total),
            (X.T.dot(weight.astype(W.dtype)) / num_samples + dpen).astype(W.dtype))


def softmax_loss_loops(W, X, y, reg):
    num_samples = X.shape[0]
    num_classes = W.shape[1]
    total = 0.0
    grad = np.zeros(W.shape, W.dtype)
    for s in range(num_samples):
        scores = W.T.dot(X[s])
        top = scores.max()
        log_norm = top + np.log(np.sum(np.exp(scores - top)))
        total += log_norm - scores[y[s]]
        for cls in range(num_classes):
            grad[:, cls] += (np.exp(scores[cls] - log_norm)
                             - float(cls == y[s])) * X[s]
    pen, dpen = _penalty(W, reg)
    return (W.dtype.type(total / num_samples + pen),
            (grad / num_samples + dpen).astype(W.dtype))


def softmax_loss(W, X, y, reg):
    num_samples = X.shape[0]
    scores = X.dot(W)
    top = scores.max(1)[:, np.newaxis]
    log_norm = top + np.log(np.exp(scores - top).sum(1))[:, np.newaxis]
    probs = np.exp(scores - log_norm)
    total = (log_norm[:, 0] - scores[np.arange(num_samples), y]).mean()
    probs[np.arange(num_samples), y] -= 1
    pen, dpen = _penalty(W, reg)
    return (W.dtype.type(total + pen),
            (X.T.dot(probs) / num_samples + dpen).astype(W.dtype))


def predict(W, X):
    scores = X.dot(W)
    winner = np.zeros(scores.shape[0], dtype=np.int64)
    for cls in range(1, scores.shape[1]):
        winner = np.where(scores[np.arange(scores.shape[0]), cls]
                          > scores[np.arange(scores.shape[0]), winner], cls, winner)
    return winner


def train_sgd(W, X, y, *, loss="softmax", reg=0.0, lr=1e-3, batch_size=200, steps=100, rng):
    objective = svm_loss if loss == "svm" else softmax_loss
    losses = np.zeros((steps,), W.dtype)
    for step in range(steps):
        batch = rng.integers(0, X.shape[0], size=batch_size)
        losses[step], g = objective(W, X[batch], y[batch], reg)
        W = W - lr * g
    return W, losses
