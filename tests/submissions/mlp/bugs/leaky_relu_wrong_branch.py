"""LeakyReLU.forward applies the slope on the wrong branch: x if x < 0 else slope * x."""
# file: layers.py
# affects: mlp.leaky_relu.forward, mlp.leaky_relu.backward


def _forward(self, x, params, *, train=False, rng=None, state=None):
    return np.where(x < 0, x, self.negative_slope * x), x > 0


def _backward(self, dy, cache):
    return np.where(cache, dy, self.negative_slope * dy), {}


LeakyReLU.forward = _forward
LeakyReLU.backward = _backward
