"""Conv2d backward scatters dx with np.add.at over im2col index arrays (the cs231n col2im): correct,
but slower than adding one strided slice per kernel offset."""
# file: conv.py
# affects:
# speed.forward: full
# speed.backward: partial


def _col2im_indices(C, KH, KW, Ho, Wo, s):
    """Index arrays (k, i, j), each broadcasting to (C * KH * KW, Ho * Wo): the channel, row and
    column in the padded input of every entry of cols."""
    i0 = np.tile(np.repeat(np.arange(KH), KW), C)
    i1 = s * np.repeat(np.arange(Ho), Wo)
    j0 = np.tile(np.arange(KW), KH * C)
    j1 = s * np.tile(np.arange(Wo), Ho)
    i = i0.reshape(-1, 1) + i1.reshape(1, -1)
    j = j0.reshape(-1, 1) + j1.reshape(1, -1)
    k = np.repeat(np.arange(C), KH * KW).reshape(-1, 1)
    return k, i, j


def _backward(self, dy, cache):
    cols, Wm, (N, C, H, Wd), (KH, KW, Ho, Wo) = cache
    F = Wm.shape[0]
    s, p = self.stride, self.padding
    dy2 = dy.transpose(1, 0, 2, 3).reshape(F, -1)
    dW = (dy2 @ cols.T).reshape(F, C, KH, KW)
    db = dy2.sum(axis=1)
    dcols = (Wm.T @ dy2).reshape(C * KH * KW, N, Ho * Wo).transpose(1, 0, 2)
    dxp = np.zeros((N, C, H + 2 * p, Wd + 2 * p), dtype=dcols.dtype)
    k, i, j = _col2im_indices(C, KH, KW, Ho, Wo, s)
    np.add.at(dxp, (slice(None), k, i, j), dcols)
    return dxp[:, :, p:p + H, p:p + Wd], {"W": dW, "b": db}


Conv2d.backward = _backward
