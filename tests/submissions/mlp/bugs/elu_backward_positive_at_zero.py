"""ELU.backward takes the slope-1 branch at x == 0 (x >= 0) instead of the left branch's alpha * exp(0) = alpha."""
# file: layers.py
# affects: mlp.elu.backward
# clause: kink-left-branch


def _forward(self, x, params, *, train=False, rng=None, state=None):
    y = np.where(x > 0, x, self.alpha * np.expm1(np.minimum(x, 0)))
    return y, (x >= 0, y)


ELU.forward = _forward
