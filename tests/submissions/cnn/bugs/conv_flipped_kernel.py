"""Conv2d forward computes a true convolution (kernel flipped in both spatial axes) instead of
PyTorch's cross-correlation; backward is the answer key's, so dx (which uses the flipped kernel
from the cache) is wrong too."""
# file: conv.py
# affects: cnn.conv.forward, cnn.conv.backward, cnn.conv.speed.forward, cnn.conv.speed.backward

_forward_xcorr = Conv2d.forward


def _forward(self, x, params, *, train=False, rng=None, state=None):
    flipped = {**params, "W": params["W"][:, :, ::-1, ::-1]}
    return _forward_xcorr(self, x, flipped, train=train, rng=rng, state=state)


Conv2d.forward = _forward
