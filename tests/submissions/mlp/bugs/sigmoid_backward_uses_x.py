"""Sigmoid.backward uses the input instead of the output: dx = dy * x * (1 - x)."""
# file: layers.py
# affects: mlp.sigmoid.backward


def _forward(self, x, params, *, train=False, rng=None, state=None):
    return 0.5 * (1.0 + np.tanh(0.5 * x)), x


def _backward(self, dy, cache):
    x = cache
    return dy * x * (1.0 - x), {}


Sigmoid.forward = _forward
Sigmoid.backward = _backward
