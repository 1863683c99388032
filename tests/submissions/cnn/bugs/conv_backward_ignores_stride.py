"""Conv2d backward adds each kernel offset's slice of dcols back with step 1 instead of the stride
(col2im ignores the stride)."""
# file: conv.py
# affects: cnn.conv.backward


def _backward(self, dy, cache):
    cols, Wm, (N, C, H, Wd), (KH, KW, Ho, Wo) = cache
    F = Wm.shape[0]
    p = self.padding
    dy2 = dy.transpose(1, 0, 2, 3).reshape(F, -1)
    dW = (dy2 @ cols.T).reshape(F, C, KH, KW)
    db = dy2.sum(axis=1)
    dcols = (Wm.T @ dy2).reshape(C, KH, KW, N, Ho, Wo)
    dxp = np.zeros((C, N, H + 2 * p, Wd + 2 * p), dtype=dcols.dtype)
    for u in range(KH):
        for v in range(KW):
            dxp[:, :, u:u + Ho, v:v + Wo] += dcols[:, u, v]
    return dxp[:, :, p:p + H, p:p + Wd].transpose(1, 0, 2, 3), {"W": dW, "b": db}


Conv2d.backward = _backward
