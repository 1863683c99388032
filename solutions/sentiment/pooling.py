"""Masked pooling over time for the `sentiment` assignment.

A batch of reviews of different lengths is padded to one length T; the recurrent layer still
produces a hidden state at every step, padding included. A masked pooling layer reduces the
hidden states (N, T, H) to one vector per review (N, H) using only the steps of real tokens.
The mask travels in the layer's `state` dict (the model fills it in for every batch, see
`model.py`): `state["mask"]` (N, T) bool, True at real tokens.
"""
import numpy as np

try:  # imported as part of a package
    from .backend import array_module
    from .layers import Layer
except ImportError:  # imported as a top-level module, with this folder on sys.path
    from backend import array_module
    from layers import Layer


class MaskedMeanPool(Layer):
    """The mean of the hidden states over the real (unmasked) steps of each sequence.

    Shapes: x (N, T, H), state["mask"] (N, T) bool -> y (N, H). No parameters (params {}).
    dtype: that of x.
    Notes: y[n] = sum_t mask[n, t] x[n, t] / max(1, sum_t mask[n, t]): padded steps count
    neither in the sum nor in the count, and a row without any real step pools to zeros.
    `state` is read, never modified. backward returns (dx (N, T, H), {}).
    """

    def forward(self, x, params, *, train=False, rng=None, state=None):
        # BEGIN SOLUTION
        mask = state["mask"].astype(x.dtype)                    # (N, T)
        count = np.maximum(mask.sum(axis=1, keepdims=True), 1)  # (N, 1)
        y = (x * mask[:, :, None]).sum(axis=1) / count
        return y, (mask, count)
        # END SOLUTION

    def backward(self, dy, cache):
        # BEGIN SOLUTION
        mask, count = cache
        return (dy / count)[:, None, :] * mask[:, :, None].astype(dy.dtype), {}
        # END SOLUTION
