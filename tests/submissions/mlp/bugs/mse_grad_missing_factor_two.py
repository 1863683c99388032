"""MSELoss.backward forgets the factor 2: dscores = (s - t) / N."""
# file: losses.py
# affects: mlp.loss.mse


def _backward(self, cache):
    diff, n = cache
    return diff / n


MSELoss.backward = _backward
