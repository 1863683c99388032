"""Tanh.forward computes (e^x - e^-x) / (e^x + e^-x): inf / inf = NaN once |x| > 710."""
# file: layers.py
# affects: mlp.tanh.forward, mlp.tanh.backward
# clause: stable


def _forward(self, x, params, *, train=False, rng=None, state=None):
    y = (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x))
    return y, y


Tanh.forward = _forward
