"""Dropout draws one mask row and uses it for every sample (rng.random(x.shape[1:])): units are not dropped independently."""
# file: layers.py
# affects: mlp.dropout.train
# clause: dropout-independent


def _forward(self, x, params, *, train=False, rng=None, state=None):
    if not train or self.p == 0:
        return x, None
    keep = rng.random(x.shape[1:]) >= self.p
    mask = np.broadcast_to(keep.astype(x.dtype) / (1.0 - self.p), x.shape)
    return x * mask, mask


Dropout.forward = _forward
