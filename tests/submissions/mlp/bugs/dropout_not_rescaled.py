"""Dropout at train time zeroes units but does not rescale the kept ones by 1/(1-p)."""
# file: layers.py
# affects: mlp.dropout.train


def _forward(self, x, params, *, train=False, rng=None, state=None):
    if not train or self.p == 0:
        return x, None
    mask = (rng.random(x.shape) >= self.p).astype(x.dtype)
    return x * mask, mask


def _backward(self, dy, cache):
    return (dy if cache is None else dy * cache), {}


Dropout.forward = _forward
Dropout.backward = _backward
