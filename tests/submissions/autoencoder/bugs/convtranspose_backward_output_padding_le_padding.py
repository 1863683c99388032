"""ConvTranspose2d.backward puts dy back into a zero array of the full output size WITHOUT the
output_padding rows and columns, (H - 1) * stride + KH, at rows padding .. padding + H' - 1. The
kernel copies never reach those extra rows, so this is right while output_padding <= padding (dy
still fits); with output_padding > padding dy sticks out of the array and the assignment fails."""
# file: autoencoder.py
# affects: autoencoder.conv_transpose.output_padding
# status: error
# clause: convt-geometry


def _backward(self, dy, cache):
    x2, W, (N, C, H, Wd) = cache
    _, F, KH, KW = W.shape
    s, p = self.stride, self.padding
    Ho, Wo = dy.shape[2:]
    full = np.zeros((F, N, (H - 1) * s + KH, (Wd - 1) * s + KW), dtype=dy.dtype)
    full[:, :, p:p + Ho, p:p + Wo] = dy.transpose(1, 0, 2, 3)
    sf, sn, sh, sw = full.strides
    windows = np.lib.stride_tricks.as_strided(full, (F, KH, KW, N, H, Wd), (sf, sh, sw, sn, sh * s, sw * s))
    dcols = np.ascontiguousarray(windows).reshape(F * KH * KW, N * H * Wd)
    dx = (W.reshape(C, F * KH * KW) @ dcols).reshape(C, N, H, Wd).transpose(1, 0, 2, 3)
    dW = (x2 @ dcols.T).reshape(C, F, KH, KW)
    return dx, {"W": dW, "b": dy.sum(axis=(0, 2, 3))}


ConvTranspose2d.backward = _backward
