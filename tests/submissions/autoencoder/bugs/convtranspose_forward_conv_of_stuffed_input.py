"""ConvTranspose2d.forward is a Conv2d of the zero-stuffed input (stride - 1 zeros between the
pixels) with the flipped kernel and a padding of KH - 1 - padding (KW - 1 - padding) on each side,
output_padding more at the bottom and on the right. Right while padding <= kernel size - 1; with a
larger padding the pad width is negative and np.pad refuses it (so the backward items, which run
this forward first, fail on that geometry too)."""
# file: autoencoder.py
# affects: autoencoder.conv_transpose.forward, autoencoder.conv_transpose.backward, autoencoder.conv_transpose.output_padding
# status: error
# clause: convt-geometry


def _forward(self, x, params, *, train=False, rng=None, state=None):
    W = params["W"].astype(x.dtype, copy=False)
    N, C, H, Wd = x.shape
    _, F, KH, KW = W.shape
    s, p, op = self.stride, self.padding, self.output_padding
    stuffed = np.zeros((N, C, (H - 1) * s + 1, (Wd - 1) * s + 1), dtype=x.dtype)
    stuffed[:, :, ::s, ::s] = x
    ph, pw = KH - 1 - p, KW - 1 - p
    stuffed = np.pad(stuffed, ((0, 0), (0, 0), (ph, ph + op), (pw, pw + op)))
    win = np.lib.stride_tricks.sliding_window_view(stuffed, (KH, KW), axis=(2, 3))  # (N, C, H', W', KH, KW)
    y = np.tensordot(win, W[:, :, ::-1, ::-1], axes=([1, 4, 5], [0, 2, 3])).transpose(0, 3, 1, 2)
    y = y + params["b"].astype(x.dtype, copy=False).reshape(F, 1, 1)
    return y, (x.transpose(1, 0, 2, 3).reshape(C, N * H * Wd), W, x.shape)


ConvTranspose2d.forward = _forward
