"""MaxPool2d backward sends each window's gradient to its LAST maximum (a `>=` scan) instead of the first."""
# file: conv.py
# affects: cnn.maxpool.backward


def _backward(self, dy, cache):
    x, y, (KH, KW, sh, sw) = cache
    Ho, Wo = y.shape[2:]
    dx = np.zeros(x.shape, dtype=dy.dtype)
    best = np.full(y.shape, -np.inf, dtype=x.dtype)
    arg_u = np.zeros(y.shape, dtype=int)
    arg_v = np.zeros(y.shape, dtype=int)
    for u in range(KH):
        for v in range(KW):
            window = x[:, :, u:u + sh * (Ho - 1) + 1:sh, v:v + sw * (Wo - 1) + 1:sw]
            better = window >= best
            best = np.where(better, window, best)
            arg_u[better], arg_v[better] = u, v
    for u in range(KH):
        for v in range(KW):
            dx[:, :, u:u + sh * (Ho - 1) + 1:sh, v:v + sw * (Wo - 1) + 1:sw] += dy * ((arg_u == u) & (arg_v == v))
    return dx, {}


MaxPool2d.backward = _backward
