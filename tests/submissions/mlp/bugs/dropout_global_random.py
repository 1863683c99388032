"""Dropout draws its mask from the global np.random instead of the rng it is given: the same seed gives another mask."""
# file: layers.py
# affects: mlp.dropout.train
# clause: rng-only


def _forward(self, x, params, *, train=False, rng=None, state=None):
    if not train or self.p == 0:
        return x, None
    keep = np.random.random(x.shape) >= self.p
    mask = keep.astype(x.dtype) / (1.0 - self.p)
    return x * mask, mask


Dropout.forward = _forward
