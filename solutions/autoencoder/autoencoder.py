"""Layers that make images larger, for the decoders of the `autoencoder` assignment, in NumPy.

Images are NCHW: x (N, C, H, W). Every layer follows the contract of `layers.Layer`: the object
holds only hyperparameters, parameters travel as a dict, `forward` returns `(y, cache)` and only
the same layer's `backward` reads the cache. Outputs and gradients have the dtype of `x`.
`conv.py` (Conv2d, pooling, BatchNorm2d) is given as working code from the `cnn` assignment.

No Python loops over samples or pixels: a loop over the KH * KW kernel offsets is fine.
"""
import numpy as np

try:  # imported as part of a package
    from . import init
    from .conv import _pair
    from .backend import array_module
    from .layers import Layer
except ImportError:  # imported as a top-level module, with this folder on sys.path
    import init
    from backend import array_module
    from conv import _pair
    from layers import Layer


# ----------------------------------------------------------------------------- upsampling
class Upsample2d(Layer):
    """Nearest-neighbour upsampling: every pixel becomes an SH x SW block of copies,
    y[n, c, i, j] = x[n, c, i // SH, j // SW] (PyTorch's `interpolate(mode="nearest")`).

    Shapes: x (N, C, H, W) -> y (N, C, H * SH, W * SW); `scale_factor` an int S (SH = SW = S)
    or a pair (SH, SW). dtype: that of x. No parameters.
    """

    def __init__(self, *, scale_factor=2):
        self.scale_factor = scale_factor

    def forward(self, x, params, *, train=False, rng=None, state=None):
        """Repeat every pixel SH times down and SW times across.

        Hint: `np.repeat` along axes 2 and 3, or broadcast x[:, :, :, None, :, None] to
        (N, C, H, SH, W, SW) and reshape.
        """
        # BEGIN SOLUTION
        sh, sw = _pair(self.scale_factor)
        N, C, H, W = x.shape
        y = np.broadcast_to(x[:, :, :, None, :, None], (N, C, H, sh, W, sw)).reshape(N, C, H * sh, W * sw)
        return y, x.shape
        # END SOLUTION

    def backward(self, dy, cache):
        """dx, the gradient with respect to x.

        Shapes: dy (N, C, H * SH, W * SW) -> dx (N, C, H, W); grads {}. dtype: that of dy.
        """
        # BEGIN SOLUTION
        N, C, H, W = cache
        sh, sw = _pair(self.scale_factor)
        return dy.reshape(N, C, H, sh, W, sw).sum(axis=(3, 5)), {}
        # END SOLUTION


# ----------------------------------------------------------------------------- transposed convolution
class ConvTranspose2d(Layer):
    """2-D transposed convolution, as PyTorch's `conv_transpose2d`: every input pixel scatters a
    copy of the kernel, weighted by its value, into the output,
    y[n, f, i * stride - padding + u, j * stride - padding + v] += sum_c x[n, c, i, j] * W[c, f, u, v],
    and every output gets b[f].

    Shapes: x (N, C, H, W) -> y (N, F, H', W') with H' = (H - 1) * stride - 2 * padding + KH +
    output_padding (W' alike); W (C, F, KH, KW): in_channels FIRST, as in PyTorch; b (F,).
    dtype: that of x.

    The formula above fixes every output: output row i' is row i' + padding of the full scatter
    (rows 0 .. (H - 1) * stride + KH - 1, zero beyond them), for i' < H'. So `padding` drops the
    first `padding` rows and columns, and `output_padding` (0 <= output_padding < stride) keeps
    that many more at the bottom and right: rows of the scatter while they exist, and rows only
    the bias reaches beyond them (when output_padding > padding).
    """

    def __init__(self, *, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0):
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.output_padding = output_padding

    def init_params(self, rng):
        """He-normal W (C, F, KH, KW) with fan_in = C * KH * KW and zero b (F,), float64."""
        kh, kw = _pair(self.kernel_size)
        W = init.he_normal(self.in_channels * kh * kw, self.out_channels, rng=rng)  # (C*KH*KW, F)
        W = W.reshape(self.in_channels, kh, kw, self.out_channels).transpose(0, 3, 1, 2)
        return {"W": np.ascontiguousarray(W), "b": np.zeros(self.out_channels)}

    def forward(self, x, params, *, train=False, rng=None, state=None):
        """Scatter the kernel-weighted copies of every input pixel, crop `padding`, add b.

        Shapes: x (N, C, H, W) -> y (N, F, H', W').
        Hint (col2im): one matrix product gives cols = W.reshape(C, F * KH * KW).T @ x2, with x2
        (C, N * H * W) one column per input pixel; then, for each kernel offset (u, v), add the
        rows of cols for (u, v) onto the output rows u, u + stride, ... and columns v, v + stride, ...
        of a zero array of the full output size (plus output_padding), and crop.
        """
        # BEGIN SOLUTION
        W = params["W"].astype(x.dtype, copy=False)
        N, C, H, Wd = x.shape
        _, F, KH, KW = W.shape
        s, p, op = self.stride, self.padding, self.output_padding
        Ho, Wo = (H - 1) * s - 2 * p + KH + op, (Wd - 1) * s - 2 * p + KW + op
        x2 = x.transpose(1, 0, 2, 3).reshape(C, N * H * Wd)
        cols = (W.reshape(C, F * KH * KW).T @ x2).reshape(F, KH, KW, N, H, Wd)
        full = array_module(x).zeros((F, N, (H - 1) * s + KH + op, (Wd - 1) * s + KW + op), dtype=x.dtype)
        for u in range(KH):
            for v in range(KW):
                full[:, :, u:u + s * (H - 1) + 1:s, v:v + s * (Wd - 1) + 1:s] += cols[:, u, v]
        y = full[:, :, p:p + Ho, p:p + Wo] + params["b"].astype(x.dtype, copy=False).reshape(F, 1, 1, 1)
        return y.transpose(1, 0, 2, 3), (x2, W, x.shape)
        # END SOLUTION

    def backward(self, dy, cache):
        """Gradients of the loss with respect to x, W and b.

        Shapes: dy (N, F, H', W') -> dx (N, C, H, W); grads {"W": (C, F, KH, KW), "b": (F,)}.
        Hint: write backward for the forward's steps in reverse order (the crop, the scatter of
        each kernel offset, the matrix product); the output that input pixel (i, j) reached
        with kernel offset (u, v) sits at row i * stride + u and column j * stride + v of the
        full, uncropped output. No loop over samples or pixels: a loop over the KH * KW kernel
        offsets is fine.
        """
        # BEGIN SOLUTION
        x2, W, (N, C, H, Wd) = cache
        _, F, KH, KW = W.shape
        s, p, op = self.stride, self.padding, self.output_padding
        Ho, Wo = dy.shape[2:]
        xp = array_module(dy)
        full = xp.zeros((F, N, (H - 1) * s + KH + op, (Wd - 1) * s + KW + op), dtype=dy.dtype)
        full[:, :, p:p + Ho, p:p + Wo] = dy.transpose(1, 0, 2, 3)
        sf, sn, sh, sw = full.strides
        windows = xp.lib.stride_tricks.as_strided(full, (F, KH, KW, N, H, Wd), (sf, sh, sw, sn, sh * s, sw * s))
        dcols = xp.ascontiguousarray(windows).reshape(F * KH * KW, N * H * Wd)
        dx = (W.reshape(C, F * KH * KW) @ dcols).reshape(C, N, H, Wd).transpose(1, 0, 2, 3)
        dW = (x2 @ dcols.T).reshape(C, F, KH, KW)
        return dx, {"W": dW, "b": dy.sum(axis=(0, 2, 3))}
        # END SOLUTION
