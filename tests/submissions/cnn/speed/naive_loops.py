"""Conv2d as the textbook quadruple loop over samples, filters and output pixels (one window dot
product per output value): correct, but hopelessly slow."""
# file: conv.py
# affects:
# speed: zero


def _forward(self, x, params, *, train=False, rng=None, state=None):
    W, b = params["W"], params["b"]
    F, C, KH, KW = W.shape
    N, _, H, Wd = x.shape
    s, p = self.stride, self.padding
    Ho, Wo = (H + 2 * p - KH) // s + 1, (Wd + 2 * p - KW) // s + 1
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    y = np.zeros((N, F, Ho, Wo), dtype=x.dtype)
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    window = xp[n, :, i * s:i * s + KH, j * s:j * s + KW]
                    y[n, f, i, j] = np.sum(window * W[f]) + b[f]
    return y, (xp, W, x.shape)


def _backward(self, dy, cache):
    xp, W, (N, C, H, Wd) = cache
    F, _, KH, KW = W.shape
    Ho, Wo = dy.shape[2:]
    s, p = self.stride, self.padding
    dxp = np.zeros_like(xp)
    dW = np.zeros(W.shape)  # float64: a float32 sum of N * H' * W' terms drifts too far
    db = np.zeros(F)
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    rows, cols = slice(i * s, i * s + KH), slice(j * s, j * s + KW)
                    g = dy[n, f, i, j]
                    dW[f] += g * xp[n, :, rows, cols]
                    dxp[n, :, rows, cols] += g * W[f]
                    db[f] += g
    dx = dxp[:, :, p:p + H, p:p + Wd]
    return dx, {"W": dW.astype(dy.dtype), "b": db.astype(dy.dtype)}


Conv2d.forward = _forward
Conv2d.backward = _backward
