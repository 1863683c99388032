"""ConvTranspose2d applies output_padding after the crop: it crops padding rows and columns from
every side of the full output, then appends output_padding rows and columns that only the bias
reaches. Right when padding is 0; when padding and output_padding are both >= 1 the output is
rows padding .. padding + H' - 1 of the full output (extended below by zeros), so the kernel
copies reach its last rows. Backward differentiates this forward."""
# file: autoencoder.py
# affects: autoencoder.conv_transpose.forward, autoencoder.conv_transpose.output_padding
# clause: convt-output-padding

_convt_forward, _convt_backward = ConvTranspose2d.forward, ConvTranspose2d.backward


def _forward(self, x, params, *, train=False, rng=None, state=None):
    op, self.output_padding = self.output_padding, 0
    try:
        y, cache = _convt_forward(self, x, params)
    finally:
        self.output_padding = op
    N, F, Ho, Wo = y.shape
    out = np.empty((N, F, Ho + op, Wo + op), dtype=y.dtype)
    out[:] = params["b"].astype(y.dtype, copy=False).reshape(F, 1, 1)
    out[:, :, :Ho, :Wo] = y
    return out, cache


def _backward(self, dy, cache):
    op, self.output_padding = self.output_padding, 0
    try:
        Ho, Wo = dy.shape[2] - op, dy.shape[3] - op
        dx, grads = _convt_backward(self, dy[:, :, :Ho, :Wo], cache)
    finally:
        self.output_padding = op
    return dx, {"W": grads["W"], "b": dy.sum(axis=(0, 2, 3))}


ConvTranspose2d.forward, ConvTranspose2d.backward = _forward, _backward
