"""Softmax.forward exponentiates the raw logits (no max-subtraction): overflows for large x."""
# file: layers.py
# affects: mlp.softmax.forward, mlp.softmax.backward


def _forward(self, x, params, *, train=False, rng=None, state=None):
    e = np.exp(x)
    y = e / e.sum(axis=-1, keepdims=True)
    return y, y


def _backward(self, dy, cache):
    y = cache
    return y * (dy - (dy * y).sum(axis=-1, keepdims=True)), {}


Softmax.forward = _forward
Softmax.backward = _backward
