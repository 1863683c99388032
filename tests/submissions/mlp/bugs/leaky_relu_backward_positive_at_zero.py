"""LeakyReLU.backward takes the slope-1 branch at x == 0 (x >= 0) instead of the left branch's negative_slope."""
# file: layers.py
# affects: mlp.leaky_relu.backward
# clause: kink-left-branch


def _forward(self, x, params, *, train=False, rng=None, state=None):
    return np.where(x > 0, x, self.negative_slope * x), x >= 0


LeakyReLU.forward = _forward
