"""Linear.backward forgets the bias: grads has no "b" entry."""
# file: layers.py
# affects: mlp.linear.backward


def _backward(self, dy, cache):
    x, W = cache
    return dy @ W.T, {"W": x.T @ dy}


Linear.backward = _backward
