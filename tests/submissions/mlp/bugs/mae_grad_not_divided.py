"""MAELoss.backward returns sign(s - t) without dividing by the batch size N."""
# file: losses.py
# affects: mlp.loss.mae


def _backward(self, cache):
    diff, n = cache
    return np.sign(diff)


MAELoss.backward = _backward
