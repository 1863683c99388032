"""Linear.forward casts x to float64 "for accuracy": float32 inputs give float64 outputs and dW."""
# file: layers.py
# affects: mlp.linear.forward, mlp.linear.backward


def _forward(self, x, params, *, train=False, rng=None, state=None):
    x = x.astype(np.float64)
    return x @ params["W"] + params["b"], (x, params["W"])


def _backward(self, dy, cache):
    x, W = cache
    return dy @ W.T, {"W": x.T @ dy, "b": dy.sum(axis=0)}


Linear.forward = _forward
Linear.backward = _backward
