"""Conv2d backward assigns each kernel offset's slice of dcols into dx (=) instead of adding it
(+=): where windows overlap, the last offset wins."""
# file: conv.py
# affects: cnn.conv.backward, cnn.conv.speed.backward


def _backward(self, dy, cache):
    cols, Wm, (N, C, H, Wd), (KH, KW, Ho, Wo) = cache
    F = Wm.shape[0]
    s, p = self.stride, self.padding
    dy2 = dy.transpose(1, 0, 2, 3).reshape(F, -1)
    dW = (dy2 @ cols.T).reshape(F, C, KH, KW)
    db = dy2.sum(axis=1)
    dcols = (Wm.T @ dy2).reshape(C, KH, KW, N, Ho, Wo)
    dxp = np.zeros((C, N, H + 2 * p, Wd + 2 * p), dtype=dcols.dtype)
    for u in range(KH):
        for v in range(KW):
            dxp[:, :, u:u + s * (Ho - 1) + 1:s, v:v + s * (Wo - 1) + 1:s] = dcols[:, u, v]
    return dxp[:, :, p:p + H, p:p + Wd].transpose(1, 0, 2, 3), {"W": dW, "b": db}


Conv2d.backward = _backward
