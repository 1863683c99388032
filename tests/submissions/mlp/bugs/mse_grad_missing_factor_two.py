"""MSELoss.backward forgets the factor 2: dscores = (s - t) / N."""
# file: losses.py
# affects: mlp.loss.mse


def _forward(self, scores, target):
    diff = scores - target
    return ((diff * diff).sum(keepdims=True) / scores.shape[0]).reshape(()), diff


def _backward(self, cache):
    return cache / cache.shape[0]


MSELoss.forward = _forward
MSELoss.backward = _backward
