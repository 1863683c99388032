"""Known bugs of the `cnn` assignment, as small variants of the reference: when a student's output
matches one, the feedback names the bug. Instructor-only: never released."""
from reference.backend import get_array_module
from reference.conv import MaxPool2d


def _windows(layer, shape):
    """(row slice, column slice) of every window offset of a pooling layer on NCHW `shape`."""
    def pair(v):
        return tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    (kh, kw), (sh, sw) = pair(layer.kernel_size), pair(layer.stride or layer.kernel_size)
    ho, wo = (shape[2] - kh) // sh + 1, (shape[3] - kw) // sw + 1
    return [(slice(u, u + sh * (ho - 1) + 1, sh), slice(v, v + sw * (wo - 1) + 1, sw))
            for u in range(kh) for v in range(kw)]


class MaxPoolLastMax(MaxPool2d):
    """Ties go to the last maximum of a window (the reference on the input flipped both ways)."""
    def forward(self, x, params, *, train=False, rng=None, state=None):
        y, cache = super().forward(x[:, :, ::-1, ::-1].copy(), params)
        return y[:, :, ::-1, ::-1].copy(), cache

    def backward(self, dy, cache):
        dx, grads = super().backward(dy[:, :, ::-1, ::-1].copy(), cache)
        return dx[:, :, ::-1, ::-1].copy(), grads


class MaxPoolAllMaxima(MaxPool2d):
    """Every tied maximum of a window gets the window's whole gradient."""
    def forward(self, x, params, *, train=False, rng=None, state=None):
        y, _ = super().forward(x, params)
        return y, (x, y)

    def backward(self, dy, cache):
        xp = get_array_module(dy)
        x, y = cache
        dx = xp.zeros(x.shape, dtype=dy.dtype)
        for rows, cols in _windows(self, x.shape):
            dx[:, :, rows, cols] += xp.where(x[:, :, rows, cols] == y, dy, 0)
        return dx, {}
