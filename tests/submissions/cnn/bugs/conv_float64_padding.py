"""Conv2d builds its zero-padded input with np.zeros without a dtype: float32 inputs with padding
come out float64 (forward and backward)."""
# file: conv.py
# affects: cnn.conv.forward, cnn.conv.backward, cnn.conv.speed.forward, cnn.conv.speed.backward


def _forward(self, x, params, *, train=False, rng=None, state=None):
    W = params["W"]
    F, C, KH, KW = W.shape
    N, _, H, Wd = x.shape
    s, p = self.stride, self.padding
    Ho, Wo = (H + 2 * p - KH) // s + 1, (Wd + 2 * p - KW) // s + 1
    xp = np.zeros((N, C, H + 2 * p, Wd + 2 * p))
    xp[:, :, p:p + H, p:p + Wd] = x
    win = sliding_window_view(xp, (KH, KW), axis=(2, 3))[:, :, ::s, ::s]
    cols = np.ascontiguousarray(win.transpose(1, 4, 5, 0, 2, 3)).reshape(C * KH * KW, -1)
    Wm = W.reshape(F, -1)
    y = Wm @ cols + params["b"].reshape(F, 1)
    return y.reshape(F, N, Ho, Wo).transpose(1, 0, 2, 3), (cols, Wm, x.shape, (KH, KW, Ho, Wo))


Conv2d.forward = _forward
