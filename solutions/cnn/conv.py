"""Convolution, pooling and batch-normalisation layers for the `cnn` assignment, in plain NumPy.

Images are NCHW: x (N, C, H, W). Every layer follows the contract of `layers.Layer`: the object
holds only hyperparameters, parameters travel as a dict, `forward` returns `(y, cache)` and only
the same layer's `backward` reads the cache. Outputs and gradients have the dtype of `x`.
Output sizes: H' = (H + 2 * padding - KH) // stride + 1, and likewise for W.

Speed is graded. Build the patches of all windows at once with a strided view
(`numpy.lib.stride_tricks.sliding_window_view`, im2col) and turn the convolution into one matrix
product; loop over the KH * KW kernel offsets if you must, never over samples or pixels.

Arrays that hold a transposed layout in memory are still valid NCHW arrays: NumPy indexes them
by shape and strides, so a layer may return a transposed view instead of copying.

On the GPU (`--device cuda`) x is a CuPy array: make new arrays with `xp = array_module(x)`
(given in `backend.py`: `xp.zeros`, `xp.ascontiguousarray`); `sliding_window_view`,
`np.maximum` and `np.einsum` applied to CuPy arrays run CuPy's own versions.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

try:  # imported as part of a package
    from . import init
    from .backend import array_module
    from .layers import Layer
except ImportError:  # imported as a top-level module, with this folder on sys.path
    import init
    from backend import array_module
    from layers import Layer


def _pair(value):
    """(a, a) for an int a, else the 2-tuple itself. (Given code.)"""
    if isinstance(value, (tuple, list)):
        a, b = value
        return int(a), int(b)
    return int(value), int(value)


# ----------------------------------------------------------------------------- convolution
class Conv2d(Layer):
    """2-D cross-correlation with zero padding, as PyTorch's `conv2d`:
    y[n, f, i, j] = b[f] + sum_{c, u, v} W[f, c, u, v] * xpad[n, c, i * stride + u, j * stride + v].

    Shapes: x (N, C, H, W) -> y (N, F, H', W'); W (F, C, KH, KW); b (F,). dtype: that of x.

    Notes (im2col): gather every window into a matrix `cols` (C * KH * KW, N * H' * W'); then
    the forward is one matrix product, y = W.reshape(F, -1) @ cols, reshaped to (N, F, H', W').
    Write backward for that product and for the gathering (a loop over the KH * KW kernel
    offsets is fine there).
    """

    def __init__(self, *, in_channels, out_channels, kernel_size, stride=1, padding=0):
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding

    def init_params(self, rng):
        """He-normal W (F, C, KH, KW) with fan_in = C * KH * KW and zero b (F,), float64."""
        kh, kw = _pair(self.kernel_size)
        fan_in = self.in_channels * kh * kw
        W = init.he_normal(fan_in, self.out_channels, rng=rng)  # (fan_in, F)
        return {"W": W.T.reshape(self.out_channels, self.in_channels, kh, kw),
                "b": np.zeros(self.out_channels)}

    def forward(self, x, params, *, train=False, rng=None, state=None):
        """Cross-correlate x with W and add b. Cache the patches (cols) for backward.

        Shapes: x (N, C, H, W) -> y (N, F, H', W').
        Hint: pad once, take `sliding_window_view(xpad, (KH, KW), axis=(2, 3))`, step it by the
        stride, and reorder its axes so that one reshape gives (C * KH * KW, N * H' * W').
        """
        # BEGIN SOLUTION
        W = params["W"]
        F, C, KH, KW = W.shape
        N, _, H, Wd = x.shape
        s, p = self.stride, self.padding
        Ho, Wo = (H + 2 * p - KH) // s + 1, (Wd + 2 * p - KW) // s + 1
        xp = array_module(x)
        if p:
            # Zero-padded copy, channel-major in memory (C, N, Hp, Wp) like the patches below.
            xpad = xp.zeros((C, N, H + 2 * p, Wd + 2 * p), dtype=x.dtype)
            xpad[:, :, p:p + H, p:p + Wd] = x.transpose(1, 0, 2, 3)
            xpad = xpad.transpose(1, 0, 2, 3)
        else:
            xpad = x
        # Windows (N, C, H', W', KH, KW) as a view, then one copy into (C, KH, KW, N, H', W').
        win = sliding_window_view(xpad, (KH, KW), axis=(2, 3))[:, :, ::s, ::s]
        cols = xp.ascontiguousarray(win.transpose(1, 4, 5, 0, 2, 3)).reshape(C * KH * KW, -1)
        Wm = W.reshape(F, -1).astype(x.dtype, copy=False)
        y = Wm @ cols                                   # (F, N * H' * W'), one matrix product
        y += params["b"].reshape(F, 1)
        # (F, N, H', W') in memory, returned as an (N, F, H', W') view: no copy.
        y = y.reshape(F, N, Ho, Wo).transpose(1, 0, 2, 3)
        return y, (cols, Wm, x.shape, (KH, KW, Ho, Wo))
        # END SOLUTION

    def backward(self, dy, cache):
        """Gradients of the loss with respect to x, W and b.

        Shapes: dy (N, F, H', W') -> dx (N, C, H, W); grads {"W": (F, C, KH, KW), "b": (F,)}.
        Hint: when stride < kernel size, windows overlap: one input element is read by several
        windows.
        """
        # BEGIN SOLUTION
        cols, Wm, (N, C, H, Wd), (KH, KW, Ho, Wo) = cache
        F = Wm.shape[0]
        s, p = self.stride, self.padding
        dy2 = dy.transpose(1, 0, 2, 3).reshape(F, -1)   # (F, N * H' * W'); free if channel-major
        dW = (dy2 @ cols.T).reshape(F, C, KH, KW)
        db = dy2.sum(axis=1)
        dcols = (Wm.T @ dy2).reshape(C, KH, KW, N, Ho, Wo)
        # col2im: each kernel offset (u, v) adds its slice back onto a strided window of dxpad.
        dxp = array_module(dy).zeros((C, N, H + 2 * p, Wd + 2 * p), dtype=dcols.dtype)
        for u in range(KH):
            for v in range(KW):
                dxp[:, :, u:u + s * (Ho - 1) + 1:s, v:v + s * (Wo - 1) + 1:s] += dcols[:, u, v]
        dx = dxp[:, :, p:p + H, p:p + Wd].transpose(1, 0, 2, 3)
        return dx, {"W": dW, "b": db}
        # END SOLUTION


# ----------------------------------------------------------------------------- pooling
class MaxPool2d(Layer):
    """Maximum over each KH x KW window, windows `stride` apart (default: kernel_size).

    Shapes: x (N, C, H, W) -> y (N, C, H', W') with H' = (H - KH) // stride + 1. dtype: that of x.

    Ties: a window's maximum is its FIRST maximal element in row-major window order (as
    PyTorch); backward treats each output as a function of that one element. Windows may
    overlap (stride < kernel_size).
    """

    def __init__(self, *, kernel_size, stride=None):
        self.kernel_size = kernel_size
        self.stride = stride

    def forward(self, x, params, *, train=False, rng=None, state=None):
        """Window maxima, the running maximum of the KH * KW strided slices of x.

        Hint: one strided slice of x per window offset holds that offset's value in every
        window; backward can find each window's first maximum again from x and y.
        """
        # BEGIN SOLUTION
        KH, KW = _pair(self.kernel_size)
        sh, sw = _pair(self.stride if self.stride is not None else (KH, KW))
        H, W = x.shape[2:]
        Ho, Wo = (H - KH) // sh + 1, (W - KW) // sw + 1
        windows = [(u, v, x[:, :, u:u + sh * (Ho - 1) + 1:sh, v:v + sw * (Wo - 1) + 1:sw])
                   for u in range(KH) for v in range(KW)]
        y = windows[0][2].copy()
        for _, _, window in windows[1:]:
            np.maximum(y, window, out=y)
        return y, (x, y, (KH, KW, sh, sw))
        # END SOLUTION

    def backward(self, dy, cache):
        """dx, the gradient with respect to x (ties as in the class docstring).

        Shapes: dy (N, C, H', W') -> dx (N, C, H, W); grads {}.
        Hint: visit the window offsets in row-major order, and remember which windows have
        already found their first maximum.
        """
        # BEGIN SOLUTION
        x, y, (KH, KW, sh, sw) = cache
        Ho, Wo = y.shape[2:]
        xp = array_module(dy)
        dx = xp.zeros(x.shape, dtype=dy.dtype)
        overlap = sh < KH or sw < KW
        pending = xp.ones(y.shape, dtype=bool)          # windows whose maximum is not yet found
        for u in range(KH):
            for v in range(KW):
                rows = slice(u, u + sh * (Ho - 1) + 1, sh)
                cols = slice(v, v + sw * (Wo - 1) + 1, sw)
                first = x[:, :, rows, cols] == y
                first &= pending
                pending ^= first
                # Multiplying by the mask is much faster than np.where; without overlap every
                # input belongs to one window at most, so the product can be written in place.
                if overlap:
                    dx[:, :, rows, cols] += dy * first
                else:
                    np.multiply(dy, first, out=dx[:, :, rows, cols])
        return dx, {}
        # END SOLUTION


class AvgPool2d(Layer):
    """Mean over each KH x KW window, windows `stride` apart (default: kernel_size).

    Shapes: x (N, C, H, W) -> y (N, C, H', W') with H' = (H - KH) // stride + 1. dtype: that of x.
    """

    def __init__(self, *, kernel_size, stride=None):
        self.kernel_size = kernel_size
        self.stride = stride

    def forward(self, x, params, *, train=False, rng=None, state=None):
        """Window means: the sum of the KH * KW strided slices of x, divided by KH * KW."""
        # BEGIN SOLUTION
        KH, KW = _pair(self.kernel_size)
        sh, sw = _pair(self.stride if self.stride is not None else (KH, KW))
        H, W = x.shape[2:]
        Ho, Wo = (H - KH) // sh + 1, (W - KW) // sw + 1
        y = array_module(x).zeros(x.shape[:2] + (Ho, Wo), dtype=x.dtype)
        for u in range(KH):
            for v in range(KW):
                y += x[:, :, u:u + sh * (Ho - 1) + 1:sh, v:v + sw * (Wo - 1) + 1:sw]
        y *= 1.0 / (KH * KW)
        return y, (x.shape, (KH, KW, sh, sw))
        # END SOLUTION

    def backward(self, dy, cache):
        """dx, the gradient with respect to x.

        Shapes: dy (N, C, H', W') -> dx (N, C, H, W); grads {}.
        """
        # BEGIN SOLUTION
        shape, (KH, KW, sh, sw) = cache
        Ho, Wo = dy.shape[2:]
        share = dy * (1.0 / (KH * KW))
        dx = array_module(dy).zeros(shape, dtype=dy.dtype)
        for u in range(KH):
            for v in range(KW):
                dx[:, :, u:u + sh * (Ho - 1) + 1:sh, v:v + sw * (Wo - 1) + 1:sw] += share
        return dx, {}
        # END SOLUTION


# ----------------------------------------------------------------------------- normalisation
class BatchNorm2d(Layer):
    """Batch normalisation per channel: y = gamma * (x - mean) / sqrt(var + eps) + beta, with the
    statistics of each channel taken over (N, H, W).

    Shapes: x (N, C, H, W) -> y (N, C, H, W); gamma, beta, running_mean, running_var (C,).
    dtype: that of x.

    BatchNorm1d's rules with M = N * H * W values per channel: at train time the batch mean and
    biased variance normalise, and `running_var` is updated with the unbiased one (M / (M - 1)
    times the biased); at evaluation time the running statistics are used and left unchanged.
    """

    def __init__(self, *, num_features, eps=1e-5, momentum=0.1):
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum

    def init_params(self, rng):
        """gamma = 1, beta = 0 (C,), float64."""
        return {"gamma": np.ones(self.num_features), "beta": np.zeros(self.num_features)}

    def init_state(self):
        """running_mean = 0, running_var = 1 (C,), float64."""
        return {"running_mean": np.zeros(self.num_features),
                "running_var": np.ones(self.num_features)}

    def forward(self, x, params, *, train=False, rng=None, state=None):
        """Normalise each channel; at train time also update `state` (see the class docstring).

        Hint: per-channel vectors broadcast against x once reshaped to (1, C, 1, 1).
        """
        # BEGIN SOLUTION
        axes = (0, 2, 3)
        C = x.shape[1]
        if train:
            m = x.size // C
            mean = x.mean(axis=axes)
            xc = x - mean.reshape(1, C, 1, 1)
            var = np.einsum("nchw,nchw->c", xc, xc) / m
            if state is not None:
                mo = self.momentum
                state["running_mean"] = (1 - mo) * state["running_mean"] + mo * mean
                state["running_var"] = ((1 - mo) * state["running_var"]
                                        + mo * var * (m / max(m - 1, 1)))
        else:
            mean = state["running_mean"].astype(x.dtype)
            var = state["running_var"].astype(x.dtype)
            xc = x - mean.reshape(1, C, 1, 1)
        inv_std = (1.0 / np.sqrt(var + self.eps)).astype(x.dtype)
        gamma = params["gamma"].astype(x.dtype, copy=False)
        x_hat = xc
        x_hat *= inv_std.reshape(1, C, 1, 1)            # xc is our own temporary: reuse it
        y = x_hat * gamma.reshape(1, C, 1, 1)
        y += params["beta"].reshape(1, C, 1, 1)
        return y, (x_hat, inv_std, gamma, train)
        # END SOLUTION

    def backward(self, dy, cache):
        """Gradients for the forward that made the cache (batch statistics at train time).

        Shapes: dy (N, C, H, W) -> dx (N, C, H, W); grads {"gamma": (C,), "beta": (C,)}.
        Hint: BatchNorm1d's backward with the M = N * H * W values of a channel as its batch.
        """
        # BEGIN SOLUTION
        x_hat, inv_std, gamma, train = cache
        C = x_hat.shape[1]
        dbeta = dy.sum(axis=(0, 2, 3))
        dgamma = np.einsum("nchw,nchw->c", dy, x_hat)
        scale = (gamma * inv_std).reshape(1, C, 1, 1)
        if train:
            m = dy.size // C
            dx = x_hat * (-dgamma / m).reshape(1, C, 1, 1)
            dx += dy
            dx -= (dbeta / m).reshape(1, C, 1, 1)
            dx *= scale
        else:
            dx = dy * scale
        return dx, {"gamma": dgamma, "beta": dbeta}
        # END SOLUTION
