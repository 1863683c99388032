"""ReLU.forward zeroes the negatives of x in place (x[x < 0] = 0), modifying the caller's array."""
# file: layers.py
# affects: mlp.relu.forward, mlp.relu.backward


def _forward(self, x, params, *, train=False, rng=None, state=None):
    positive = x > 0
    x[~positive] = 0
    return x, positive


def _backward(self, dy, cache):
    return np.where(cache, dy, 0), {}


ReLU.forward = _forward
ReLU.backward = _backward
