"""MAELoss.backward gives +1/N where scores equal targets (np.where(s >= t, 1, -1)) instead of 0."""
# file: losses.py
# affects: mlp.loss.mae
# clause: mae-zero-at-equality


def _backward(self, cache):
    diff, n = cache
    return np.where(diff >= 0, 1.0, -1.0).astype(diff.dtype) / n


MAELoss.backward = _backward
