"""Reference layers for the `autoencoder` curriculum: the layers that make images larger.

Same contract as reference/layers.py and reference/conv.py (docs/contracts.md): keyword-only
hyperparameters, `forward(x, params, *, train, rng, state) -> (y, cache)`, `backward(dy, cache)
-> (dx, grads)`, outputs and gradients in the dtype of `x`, inputs never modified. Images are
NCHW. Array-module agnostic (NumPy or CuPy); no Python loop over samples or pixels: Upsample2d
is a broadcast and a reshaped sum, ConvTranspose2d one matrix product per gradient plus one
strided slice addition (or one strided view) per kernel offset.
"""
from .backend import get_array_module
from .conv import _pair, _size_hp
from .init import he_normal
from .layers import Layer


class Upsample2d(Layer):
    """Nearest-neighbour upsampling by an integer factor: every pixel becomes an SH x SW block.

    Shapes: x (N, C, H, W) -> y (N, C, H * SH, W * SW), scale_factor an int S (SH = SW = S) or
    a pair (SH, SW). dtype: that of x.
    Notes: y[n, c, i, j] = x[n, c, i // SH, j // SW], as torch's `interpolate(mode="nearest")`
    with an integer scale factor; dx sums dy over each block.
    """

    def __init__(self, *, scale_factor=2):
        self.scale_factor = _size_hp(scale_factor)
        if min(_pair(self.scale_factor)) < 1:
            raise ValueError(f"need scale_factor >= 1, got {self.scale_factor}")

    def forward(self, x, params, *, train=False, rng=None, state=None):
        xp = get_array_module(x)
        sh, sw = _pair(self.scale_factor)
        N, C, H, W = x.shape
        y = xp.broadcast_to(x[:, :, :, None, :, None], (N, C, H, sh, W, sw)).reshape(N, C, H * sh, W * sw)
        return y, (N, C, H, W)

    def backward(self, dy, cache):
        N, C, H, W = cache
        sh, sw = _pair(self.scale_factor)
        return dy.reshape(N, C, H, sh, W, sw).sum(axis=(3, 5)), {}


def _out_size(size, k, stride, pad, out_pad):
    out = (size - 1) * stride - 2 * pad + k + out_pad
    if out < 1:
        raise ValueError(f"kernel {k} (stride {stride}, padding {pad}) gives an empty output for an input of size {size}")
    return out


class ConvTranspose2d(Layer):
    """2-D transposed convolution (the gradient of Conv2d with respect to its input), as torch's
    `conv_transpose2d`: every input pixel scatters its kernel-weighted copy into the output,
    y[n, f, i * S - P + u, j * S - P + v] += sum_c x[n, c, i, j] * W[c, f, u, v], plus b[f].

    Shapes: x (N, C, H, W) -> y (N, F, H', W') with H' = (H - 1) * S - 2P + KH + OP (W' alike);
    W (C, F, KH, KW) (in_channels first, as PyTorch); b (F,). dtype: that of x.
    Notes: output row i' is row i' + P of the full scatter (size (H - 1) * S + KH, zero beyond
    it), for i' < H': `padding` P drops the first P rows and columns and `output_padding` OP
    (< stride) keeps OP more at the bottom and right (only the bias reaches those beyond the
    scatter, when OP > P). With cols = W.reshape(C, F*KH*KW).T @ x as (C, N*H*W)
    (one column per input pixel), each kernel offset (u, v) adds its rows of cols onto the
    strided output positions (col2im); backward reads the same strided windows of dy padded
    back to the full size: dcols (F*KH*KW, N*H*W), dx = W.reshape(C, -1) @ dcols,
    dW = x @ dcols.T, db = sum of dy over (N, H', W').
    """

    def __init__(self, *, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0):
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = _size_hp(kernel_size)
        self.stride = int(stride)
        self.padding = int(padding)
        self.output_padding = int(output_padding)
        if self.stride < 1 or self.padding < 0 or not 0 <= self.output_padding < self.stride:
            raise ValueError(f"need stride >= 1, padding >= 0 and 0 <= output_padding < stride, got "
                             f"{self.stride}, {self.padding}, {self.output_padding}")

    def init_params(self, rng):
        """He normal weights with fan_in = C*KH*KW (as Conv2d), zero bias; float64."""
        kh, kw = _pair(self.kernel_size)
        fan_in = self.in_channels * kh * kw
        W = he_normal(fan_in, self.out_channels, rng=rng).reshape(self.in_channels, kh, kw, self.out_channels)
        return {"W": W.transpose(0, 3, 1, 2).copy(), "b": get_array_module(W).zeros(self.out_channels)}

    def _geometry(self, x, W):
        N, C, H, Wd = x.shape
        Cw, F, KH, KW = W.shape
        if C != Cw:
            raise ValueError(f"x has {C} channels, W expects {Cw}")
        s, p, op = self.stride, self.padding, self.output_padding
        Ho, Wo = _out_size(H, KH, s, p, op), _out_size(Wd, KW, s, p, op)
        # the full (uncropped) output, with room for output_padding beyond the last kernel row
        return N, C, H, Wd, F, KH, KW, Ho, Wo, (H - 1) * s + KH + op, (Wd - 1) * s + KW + op

    def forward(self, x, params, *, train=False, rng=None, state=None):
        xp = get_array_module(x)
        W = params["W"].astype(x.dtype, copy=False)
        N, C, H, Wd, F, KH, KW, Ho, Wo, Hf, Wf = self._geometry(x, W)
        s, p = self.stride, self.padding
        x2 = x.transpose(1, 0, 2, 3).reshape(C, N * H * Wd)           # columns (n, h, w)
        cols = (W.reshape(C, F * KH * KW).T @ x2).reshape(F, KH, KW, N, H, Wd)
        full = xp.zeros((N, F, Hf, Wf), dtype=x.dtype)
        fv = full.transpose(1, 0, 2, 3)                                # (F, N, Hf, Wf) view
        for u in range(KH):
            for v in range(KW):                                        # col2im: one slice per offset
                fv[:, :, u:u + s * (H - 1) + 1:s, v:v + s * (Wd - 1) + 1:s] += cols[:, u, v]
        y = full[:, :, p:p + Ho, p:p + Wo] + params["b"].astype(x.dtype, copy=False)[:, None, None]
        return y, (x2, W, x.shape)

    def backward(self, dy, cache):
        xp = get_array_module(dy)
        x2, W, shape = cache
        N, C, H, Wd = shape
        _, F, KH, KW = W.shape
        s, p = self.stride, self.padding
        Ho, Wo = dy.shape[2:]
        Hf, Wf = (H - 1) * s + KH + self.output_padding, (Wd - 1) * s + KW + self.output_padding
        full = xp.zeros((F, N, Hf, Wf), dtype=dy.dtype)                # dy padded back to the full output
        full[:, :, p:p + Ho, p:p + Wo] = dy.transpose(1, 0, 2, 3)
        sf, sn, sh, sw = full.strides
        windows = xp.lib.stride_tricks.as_strided(full, (F, KH, KW, N, H, Wd), (sf, sh, sw, sn, sh * s, sw * s))
        dcols = xp.ascontiguousarray(windows).reshape(F * KH * KW, N * H * Wd)
        dx = (W.reshape(C, F * KH * KW) @ dcols).reshape(C, N, H, Wd).transpose(1, 0, 2, 3)
        dW = (x2 @ dcols.T).reshape(C, F, KH, KW)
        return dx, {"W": dW, "b": dy.sum(axis=(0, 2, 3))}


LAYERS = {cls.__name__: cls for cls in (Upsample2d, ConvTranspose2d)}
