import numpy as np


def svm_loss_loops(W, X, y, reg):
    N, C = len(X), W.shape[1]
    total = 0.0
    grad = np.zeros(W.shape, dtype=W.dtype)
    for sample, label in enumerate(y):
        scores = np.dot(X[sample], W)
        correct = scores[label]
        for cls in range(C):
            if cls != label and scores[cls] - correct + 1 > 0:
                total += scores[cls] - correct + 1
                grad[:, cls] = grad[:, cls] + X[sample]
                grad[:, label] = grad[:, label] - X[sample]
    grad = grad / N + 2 * reg * W
    return total / N + reg * np.sum(W ** 2), grad


def svm_loss(W, X, y, reg):
    N = len(X)
    scores = np.dot(X, W)
    correct = np.take_along_axis(scores, y[:, None], axis=1)
    hinge = np.maximum(0, scores - correct + 1)
    np.put_along_axis(hinge, y[:, None], 0, axis=1)
    mask = (hinge > 0).astype(W.dtype)
    counts = mask.sum(axis=1)
    np.put_along_axis(mask, y[:, None], -counts[:, None], axis=1)
    dW = np.dot(X.T, mask) / N + 2 * reg * W
    return hinge.sum() / N + reg * np.sum(W ** 2), dW


def softmax_loss_loops(W, X, y, reg):
    N, C = len(X), W.shape[1]
    total = 0.0
    grad = np.zeros(W.shape, dtype=W.dtype)
    for sample, label in enumerate(y):
        scores = np.dot(X[sample], W)
        scores -= np.max(scores)
        exps = np.exp(scores)
        probs = exps / np.sum(exps)
        total += np.log(np.sum(exps)) - scores[label]
        for cls in range(C):
            target = 1.0 if cls == label else 0.0
            grad[:, cls] = grad[:, cls] + (probs[cls] - target) * X[sample]
    grad = grad / N + 2 * reg * W
    return total / N + reg * np.sum(W ** 2), grad


def softmax_loss(W, X, y, reg):
    N = len(X)
    scores = np.dot(X, W)
    shift = scores - np.max(scores, axis=1)[:, None]
    lse = np.log(np.sum(np.exp(shift), axis=1))
    picked = np.take_along_axis(shift, y[:, None], axis=1)[:, 0]
    probs = np.exp(shift - lse[:, None])
    onehot = np.zeros_like(probs)
    onehot[np.arange(N), y] = 1
    dW = np.dot(X.T, probs - onehot) / N + 2 * reg * W
    return np.mean(lse - picked) + reg * np.sum(W ** 2), dW


def predict(W, X):
    return np.argmax(np.dot(X, W), axis=1).astype(np.int64)


def train_sgd(W, X, y, *, loss="softmax", reg=0.0, lr=1e-3, batch_size=200, steps=100, rng):
    loss_fn = svm_loss if loss == "svm" else softmax_loss
    W = W.copy()
    history = []
    for _ in range(steps):
        batch = rng.integers(0, len(X), size=batch_size)
        value, grad = loss_fn(W, X[batch], y[batch], reg)
        history.append(value)
        W -= lr * grad
    return W, np.array(history, dtype=W.dtype)
