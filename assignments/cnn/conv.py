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
        # YOUR CODE HERE
        raise NotImplementedError

    def backward(self, dy, cache):
        """Gradients of the loss with respect to x, W and b.

        Shapes: dy (N, F, H', W') -> dx (N, C, H, W); grads {"W": (F, C, KH, KW), "b": (F,)}.
        Hint: when stride < kernel size, windows overlap: one input element is read by several
        windows.
        """
        # YOUR CODE HERE
        raise NotImplementedError


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
        # YOUR CODE HERE
        raise NotImplementedError

    def backward(self, dy, cache):
        """dx, the gradient with respect to x (ties as in the class docstring).

        Shapes: dy (N, C, H', W') -> dx (N, C, H, W); grads {}.
        Hint: visit the window offsets in row-major order, and remember which windows have
        already found their first maximum.
        """
        # YOUR CODE HERE
        raise NotImplementedError


class AvgPool2d(Layer):
    """Mean over each KH x KW window, windows `stride` apart (default: kernel_size).

    Shapes: x (N, C, H, W) -> y (N, C, H', W') with H' = (H - KH) // stride + 1. dtype: that of x.
    """

    def __init__(self, *, kernel_size, stride=None):
        self.kernel_size = kernel_size
        self.stride = stride

    def forward(self, x, params, *, train=False, rng=None, state=None):
        """Window means: the sum of the KH * KW strided slices of x, divided by KH * KW."""
        # YOUR CODE HERE
        raise NotImplementedError

    def backward(self, dy, cache):
        """dx, the gradient with respect to x.

        Shapes: dy (N, C, H', W') -> dx (N, C, H, W); grads {}.
        """
        # YOUR CODE HERE
        raise NotImplementedError


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
        # YOUR CODE HERE
        raise NotImplementedError

    def backward(self, dy, cache):
        """Gradients for the forward that made the cache (batch statistics at train time).

        Shapes: dy (N, C, H, W) -> dx (N, C, H, W); grads {"gamma": (C,), "beta": (C,)}.
        Hint: BatchNorm1d's backward with the M = N * H * W values of a channel as its batch.
        """
        # YOUR CODE HERE
        raise NotImplementedError
