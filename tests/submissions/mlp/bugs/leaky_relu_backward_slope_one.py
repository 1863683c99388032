"""LeakyReLU.backward passes dy through unchanged on the negative side (slope 1 instead of negative_slope)."""
# file: layers.py
# affects: mlp.leaky_relu.backward


def _backward(self, dy, cache):
    return dy.copy(), {}


LeakyReLU.backward = _backward
