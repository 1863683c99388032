"""Softmax.forward subtracts the largest input of the whole batch, not each row's: rows far below it
underflow to 0 / 0."""
# file: layers.py
# affects: mlp.softmax.forward, mlp.softmax.backward
# clause: stable


def _forward(self, x, params, *, train=False, rng=None, state=None):
    e = np.exp(x - x.max())
    y = e / e.sum(axis=-1, keepdims=True)
    return y, y


Softmax.forward = _forward
