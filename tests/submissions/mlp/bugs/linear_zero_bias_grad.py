"""Linear.backward returns a zero bias gradient (db = 0) instead of dy summed over the batch."""
# file: layers.py
# affects: mlp.linear.backward, mlp.xor


def _forward(self, x, params, *, train=False, rng=None, state=None):
    return x @ params["W"] + params["b"], (x, params["W"])


def _backward(self, dy, cache):
    x, W = cache
    return dy @ W.T, {"W": x.T @ dy, "b": np.zeros_like(W[0])}


Linear.forward = _forward
Linear.backward = _backward
