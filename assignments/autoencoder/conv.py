# From the `cnn` assignment: this is the stub of its conv.py. Copy your own
# cnn/conv.py over this file (`dlgrade check` names it while it is still the stub).
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
(`xp.zeros`, `xp.ascontiguousarray`); `sliding_window_view`, `np.maximum` and `np.einsum` applied
to CuPy arrays run CuPy's own versions.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

try:  # imported as part of a package
    from . import init
    from .layers import Layer, array_module
except ImportError:  # imported as a top-level module, with this folder on sys.path
    import init
    from layers import Layer, array_module


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
    y = W.reshape(F, -1) @ cols, dW = dy @ cols.T and dcols = W.T @ dy are matrix products, and
    dx adds dcols back onto the windows it came from (col2im), one kernel offset at a time.
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
        """dW = dy @ cols.T, db = sum of dy over (N, H', W'), dx = col2im(W.T @ dy).

        Shapes: dy (N, F, H', W') -> dx (N, C, H, W); grads {"W": (F, C, KH, KW), "b": (F,)}.
        Hint: col2im must add, not assign: windows overlap when stride < kernel size.
        """
        # YOUR CODE HERE
        raise NotImplementedError


# ----------------------------------------------------------------------------- pooling
class MaxPool2d(Layer):
    """Maximum over each KH x KW window, windows `stride` apart (default: kernel_size).

    Shapes: x (N, C, H, W) -> y (N, C, H', W') with H' = (H - KH) // stride + 1. dtype: that of x.

    Backward: each window's gradient goes to its FIRST maximum in row-major window order; where
    windows overlap (stride < kernel_size), the gradients they send to one input add up.
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
        """Route dy to the first maximum of each window; overlapping windows accumulate.

        Shapes: dy (N, C, H', W') -> dx (N, C, H, W).
        Hint: visit the window offsets in row-major order and remember which windows have
        already sent their gradient.
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
        """Each input of a window receives dy / (KH * KW); overlapping windows accumulate.

        Shapes: dy (N, C, H', W') -> dx (N, C, H, W).
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
        Notes: with M = N * H * W, dbeta = sum(dy), dgamma = sum(dy * x_hat) per channel, and at
        train time dx = gamma * inv_std * (dy - dbeta / M - x_hat * dgamma / M).
        """
        # YOUR CODE HERE
        raise NotImplementedError
