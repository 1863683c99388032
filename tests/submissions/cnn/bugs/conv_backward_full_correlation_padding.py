"""Conv2d.backward computes dx at stride 1 as the "full" correlation of dy with the flipped kernel:
dy padded by KH - 1 - padding rows (KW - 1 - padding columns) on each side. Right while padding
<= kernel size - 1; with a larger padding the pad width is negative and np.pad refuses it."""
# file: conv.py
# affects: cnn.conv.backward
# status: error
# clause: conv-geometry

_conv_backward = Conv2d.backward


def _backward(self, dy, cache):
    if self.stride != 1:
        return _conv_backward(self, dy, cache)
    cols, Wm, (N, C, H, Wd), (KH, KW, Ho, Wo) = cache
    F, p = Wm.shape[0], self.padding
    dy2 = dy.transpose(1, 0, 2, 3).reshape(F, -1)
    dW, db = (dy2 @ cols.T).reshape(F, C, KH, KW), dy2.sum(axis=1)
    dyp = np.pad(dy, ((0, 0), (0, 0), (KH - 1 - p, KH - 1 - p), (KW - 1 - p, KW - 1 - p)))
    win = sliding_window_view(dyp, (KH, KW), axis=(2, 3))             # (N, F, H, W, KH, KW)
    Wf = Wm.reshape(F, C, KH, KW)[:, :, ::-1, ::-1]
    dx = np.tensordot(win, Wf, axes=([1, 4, 5], [0, 2, 3])).transpose(0, 3, 1, 2)
    return dx, {"W": dW, "b": db}


Conv2d.backward = _backward
