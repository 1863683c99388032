"""ELU.backward for x <= 0 uses dy * y (forgets + alpha: the derivative is alpha * exp(x) = y + alpha)."""
# file: layers.py
# affects: mlp.elu.backward


def _backward(self, dy, cache):
    positive, y = cache
    return np.where(positive, dy, dy * y), {}


ELU.backward = _backward
