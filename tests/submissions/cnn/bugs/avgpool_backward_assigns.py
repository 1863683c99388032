"""AvgPool2d backward writes each window offset's share into dx (=) instead of adding it:
overlapping windows lose all but the last share."""
# file: conv.py
# affects: cnn.avgpool.backward


def _backward(self, dy, cache):
    shape, (KH, KW, sh, sw) = cache
    Ho, Wo = dy.shape[2:]
    dx = np.zeros(shape, dtype=dy.dtype)
    for u in range(KH):
        for v in range(KW):
            dx[:, :, u:u + sh * (Ho - 1) + 1:sh, v:v + sw * (Wo - 1) + 1:sw] = dy / (KH * KW)
    return dx, {}


AvgPool2d.backward = _backward
