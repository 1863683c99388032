"""MaxPool2d backward sends each window's gradient to every input equal to its maximum (mask x ==
max), so tied maxima all receive it."""
# file: conv.py
# affects: cnn.maxpool.backward


def _backward(self, dy, cache):
    x, y, (KH, KW, sh, sw) = cache
    Ho, Wo = y.shape[2:]
    dx = np.zeros(x.shape, dtype=dy.dtype)
    for u in range(KH):
        for v in range(KW):
            rows = slice(u, u + sh * (Ho - 1) + 1, sh)
            cols = slice(v, v + sw * (Wo - 1) + 1, sw)
            dx[:, :, rows, cols] += dy * (x[:, :, rows, cols] == y)
    return dx, {}


MaxPool2d.backward = _backward
