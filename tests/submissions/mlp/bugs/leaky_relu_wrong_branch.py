"""LeakyReLU.forward applies the slope on the wrong branch: x if x < 0 else slope * x."""
# file: layers.py
# affects: mlp.leaky_relu.forward, mlp.leaky_relu.backward


def _forward(self, x, params, *, train=False, rng=None, state=None):
    negative = x < 0
    return np.where(negative, x, self.negative_slope * x), x > 0


LeakyReLU.forward = _forward
