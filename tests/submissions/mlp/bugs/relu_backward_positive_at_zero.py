"""ReLU.backward takes the right branch at x == 0 (x >= 0): the contract's derivative at the kink is the left branch's, 0."""
# file: layers.py
# affects: mlp.relu.backward
# clause: kink-left-branch


def _forward(self, x, params, *, train=False, rng=None, state=None):
    return np.where(x > 0, x, 0), x >= 0


ReLU.forward = _forward
