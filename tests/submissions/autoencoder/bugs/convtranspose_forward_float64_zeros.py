"""ConvTranspose2d.forward allocates its output with np.zeros(shape) and no dtype: the values are
right, but a float32 input gives a float64 output."""
# file: autoencoder.py
# affects: autoencoder.conv_transpose.forward
# clause: dtype-rule


def _forward(self, x, params, *, train=False, rng=None, state=None):
    W = params["W"].astype(x.dtype, copy=False)
    N, C, H, Wd = x.shape
    _, F, KH, KW = W.shape
    s, p, op = self.stride, self.padding, self.output_padding
    Ho, Wo = (H - 1) * s - 2 * p + KH + op, (Wd - 1) * s - 2 * p + KW + op
    x2 = x.transpose(1, 0, 2, 3).reshape(C, N * H * Wd)
    cols = (W.reshape(C, F * KH * KW).T @ x2).reshape(F, KH, KW, N, H, Wd)
    full = np.zeros((F, N, (H - 1) * s + KH + op, (Wd - 1) * s + KW + op))
    for u in range(KH):
        for v in range(KW):
            full[:, :, u:u + s * (H - 1) + 1:s, v:v + s * (Wd - 1) + 1:s] += cols[:, u, v]
    y = full[:, :, p:p + Ho, p:p + Wo] + params["b"].reshape(F, 1, 1, 1)
    return y.transpose(1, 0, 2, 3), (x2, W, x.shape)


ConvTranspose2d.forward = _forward
