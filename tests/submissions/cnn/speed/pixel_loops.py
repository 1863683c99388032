"""Conv2d with Python loops over samples and output pixels, one matrix-vector product over all
channels and filters per pixel: correct, but it loops over pixels, which the contract forbids."""
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
    Wm = W.reshape(F, -1).astype(x.dtype)
    for n in range(N):
        for i in range(Ho):
            for j in range(Wo):
                patch = xp[n, :, i * s:i * s + KH, j * s:j * s + KW].reshape(-1)
                y[n, :, i, j] = Wm @ patch + b
    return y, (xp, Wm, x.shape, (KH, KW, Ho, Wo))


def _backward(self, dy, cache):
    xp, Wm, (N, C, H, Wd), (KH, KW, Ho, Wo) = cache
    F = Wm.shape[0]
    s, p = self.stride, self.padding
    dxp = np.zeros_like(xp)
    dW = np.zeros(Wm.shape)  # float64: a float32 sum of N * H' * W' outer products drifts too far
    for n in range(N):
        for i in range(Ho):
            for j in range(Wo):
                window = (n, slice(None), slice(i * s, i * s + KH), slice(j * s, j * s + KW))
                g = dy[n, :, i, j]
                dW += np.outer(g, xp[window].reshape(-1))
                dxp[window] += (Wm.T @ g).reshape(C, KH, KW)
    db = dy.sum(axis=(0, 2, 3))
    dW = dW.astype(dy.dtype).reshape(F, C, KH, KW)
    return dxp[:, :, p:p + H, p:p + Wd], {"W": dW, "b": db}


Conv2d.forward = _forward
Conv2d.backward = _backward
