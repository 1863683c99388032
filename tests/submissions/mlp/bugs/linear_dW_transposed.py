"""Linear.backward returns dW transposed (dy.T @ x)."""
# file: layers.py
# affects: mlp.linear.backward


def _backward(self, dy, cache):
    x, W = cache
    return dy @ W.T, {"W": dy.T @ x, "b": dy.sum(axis=0)}


Linear.backward = _backward
