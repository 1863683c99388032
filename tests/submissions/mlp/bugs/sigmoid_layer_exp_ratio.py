"""Sigmoid.forward computes exp(x) / (1 + exp(x)): inf / inf = NaN once x > 709."""
# file: layers.py
# affects: mlp.sigmoid.forward, mlp.sigmoid.backward
# clause: stable


def _forward(self, x, params, *, train=False, rng=None, state=None):
    e = np.exp(x)
    y = e / (1 + e)
    return y, y


Sigmoid.forward = _forward
