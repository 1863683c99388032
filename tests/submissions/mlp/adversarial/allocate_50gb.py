"""Sigmoid.forward allocates 50 GB (np.ones(50 * 2**30 // 8))."""
# file: layers.py
# affects: mlp.sigmoid.forward, mlp.sigmoid.backward
# status: error


def _forward(self, x, params, *, train=False, rng=None, state=None):
    big = np.ones(50 * 2**30 // 8)
    y = 0.5 * (1.0 + np.tanh(0.5 * x)) + 0 * big[0]
    return y, y


Sigmoid.forward = _forward
