"""ConvTranspose2d.backward puts dy back into the full-size array with full[:, :, p:-p, p:-p]:
right for padding >= 1, but with padding 0 the slice p:-p is empty and the assignment fails."""
# file: autoencoder.py
# affects: autoencoder.conv_transpose.backward, autoencoder.conv_transpose.output_padding
# status: error
# clause: convt-padding

_convt_backward = ConvTranspose2d.backward


def _backward(self, dy, cache):
    x2, W, (N, C, H, Wd) = cache
    _, F, KH, KW = W.shape
    s, p, op = self.stride, self.padding, self.output_padding
    full = np.zeros((F, N, (H - 1) * s + KH + op, (Wd - 1) * s + KW + op), dtype=dy.dtype)
    full[:, :, p:-p, p:-p] = dy.transpose(1, 0, 2, 3)
    return _convt_backward(self, dy, cache)


ConvTranspose2d.backward = _backward
