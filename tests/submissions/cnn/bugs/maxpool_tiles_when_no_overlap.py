"""MaxPool2d takes a fast path whenever windows do not overlap (stride >= kernel_size): it crops x
to H' * KH rows and W' * KW columns and reshapes it into KH x KW tiles. Right for stride ==
kernel_size; with stride > kernel_size the windows are stride apart, not side by side, so the
tiles are the wrong pixels (backward routes dy through the same tiles)."""
# file: conv.py
# affects: cnn.maxpool.forward, cnn.maxpool.backward
# clause: pool-geometry

_maxpool_forward, _maxpool_backward = MaxPool2d.forward, MaxPool2d.backward


def _tiles(self, x):
    KH, KW = _pair(self.kernel_size)
    sh, sw = _pair(self.stride if self.stride is not None else (KH, KW))
    N, C, H, W = x.shape
    Ho, Wo = (H - KH) // sh + 1, (W - KW) // sw + 1
    t = x[:, :, :Ho * KH, :Wo * KW].reshape(N, C, Ho, KH, Wo, KW).transpose(0, 1, 2, 4, 3, 5)
    return t.reshape(N, C, Ho, Wo, KH * KW), (KH, KW, Ho, Wo)


def _no_overlap(self):
    KH, KW = _pair(self.kernel_size)
    sh, sw = _pair(self.stride if self.stride is not None else (KH, KW))
    return sh >= KH and sw >= KW


def _forward(self, x, params, *, train=False, rng=None, state=None):
    if not _no_overlap(self):
        return _maxpool_forward(self, x, params, train=train, rng=rng, state=state)
    t, _ = _tiles(self, x)
    return t.max(axis=-1), ("tiles", x)


def _backward(self, dy, cache):
    if not isinstance(cache[0], str):
        return _maxpool_backward(self, dy, cache)
    x = cache[1]
    t, (KH, KW, Ho, Wo) = _tiles(self, x)
    N, C = x.shape[:2]
    first = np.arange(KH * KW) == t.argmax(axis=-1)[..., None]          # the first maximum of each tile
    d = (dy[..., None] * first).reshape(N, C, Ho, Wo, KH, KW).transpose(0, 1, 2, 4, 3, 5)
    dx = np.zeros(x.shape, dtype=dy.dtype)
    dx[:, :, :Ho * KH, :Wo * KW] = d.reshape(N, C, Ho * KH, Wo * KW)
    return dx, {}


MaxPool2d.forward, MaxPool2d.backward = _forward, _backward
