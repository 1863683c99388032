"""MAELoss.backward returns sign(s - t) without dividing by the batch size N."""
# file: losses.py
# affects: mlp.loss.mae


def _forward(self, scores, target):
    diff = scores - target
    return (np.abs(diff).sum(keepdims=True) / scores.shape[0]).reshape(()), diff


def _backward(self, cache):
    return np.sign(cache)


MAELoss.forward = _forward
MAELoss.backward = _backward
