"""Linear.backward returns dW transposed (dy.T @ x)."""
# file: layers.py
# affects: mlp.linear.backward, mlp.xor


def _forward(self, x, params, *, train=False, rng=None, state=None):
    return x @ params["W"] + params["b"], (x, params["W"])


def _backward(self, dy, cache):
    x, W = cache
    return dy @ W.T, {"W": dy.T @ x, "b": dy.sum(axis=0)}


Linear.forward = _forward
Linear.backward = _backward
