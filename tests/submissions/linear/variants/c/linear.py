import numpy as np


def svm_loss_loops(W, X, y, reg):
    num_train, num_classes = X.shape[0], W.shape[1]
    data_loss = 0.0
    grad = np.zeros_like(W)
    i = 0
    while i < num_train:
        row = X[i]
        out = row @ W
        true_class = int(y[i])
        for k in range(num_classes):
            gap = out[k] - out[true_class] + 1.0
            if k != true_class and gap > 0:
                data_loss += gap
                grad[:, k] += row
                grad[:, true_class] -= row
        i += 1
    penalty = reg * np.einsum("dc,dc->", W, W)
    return data_loss / num_train + penalty, grad / num_train + 2.0 * reg * W


def svm_loss(W, X, y, reg):
    num_train = X.shape[0]
    idx = np.arange(num_train)
    out = X @ W
    gaps = np.clip(out - out[idx, y].reshape(-1, 1) + 1.0, 0, None)
    gaps[idx, y] = 0.0
    active = np.where(gaps > 0, 1.0, 0.0).astype(W.dtype)
    active[idx, y] = -np.count_nonzero(gaps, axis=1)
    penalty = reg * np.einsum("dc,dc->", W, W)
    return gaps.sum() / num_train + penalty, (X.T @ active) / num_train + 2.0 * reg * W


def softmax_loss_loops(W, X, y, reg):
    num_train, num_classes = X.shape[0], W.shape[1]
    data_loss = 0.0
    grad = np.zeros_like(W)
    i = 0
    while i < num_train:
        row = X[i]
        out = row @ W
        out = out - np.amax(out)
        denom = np.exp(out).sum()
        data_loss += -out[int(y[i])] + np.log(denom)
        k = 0
        while k < num_classes:
            share = np.exp(out[k]) / denom
            if k == y[i]:
                share -= 1.0
            grad[:, k] += share * row
            k += 1
        i += 1
    penalty = reg * np.einsum("dc,dc->", W, W)
    return data_loss / num_train + penalty, grad / num_train + 2.0 * reg * W


def softmax_loss(W, X, y, reg):
    num_train = X.shape[0]
    idx = np.arange(num_train)
    out = X @ W
    out = out - np.amax(out, axis=-1, keepdims=True)
    e = np.exp(out)
    denom = e.sum(axis=-1, keepdims=True)
    p = e / denom
    data_loss = (np.log(denom[:, 0]) - out[idx, y]).sum() / num_train
    dout = p.copy()
    np.subtract.at(dout, (idx, y), 1.0)
    penalty = reg * np.einsum("dc,dc->", W, W)
    return data_loss + penalty, (X.T @ dout) / num_train + 2.0 * reg * W


def predict(W, X):
    scores = X @ W
    return np.asarray(scores.argmax(-1), dtype=np.int64)


def train_sgd(W, X, y, *, loss="softmax", reg=0.0, lr=1e-3, batch_size=200, steps=100, rng):
    objectives = dict(svm=svm_loss, softmax=softmax_loss)
    current = np.array(W, copy=True)
    trace = np.empty(steps, dtype=W.dtype)
    t = 0
    while t < steps:
        pick = rng.integers(0, X.shape[0], size=batch_size)
        trace[t], grad = objectives[loss](current, X[pick], y[pick], reg)
        current = current - lr * grad
        t += 1
    return current, trace
