"""Reference layers for the `mlp` curriculum (the contract is docs/contracts.md).

Every layer holds only keyword-only hyperparameters. `forward(x, params, *, train, rng, state)`
returns `(y, cache)`; `backward(dy, cache)` returns `(dx, grads)` with `grads.keys() ==
params.keys()`. Outputs and gradients have the dtype of `x`: pass params in that dtype
(`init_params` returns float64; callers cast). Inputs and params are never modified.
"""
import contextlib
import json

import numpy as np

from . import parallel
from .backend import get_array_module
from .init import he_normal


class Layer:
    """Base class: a parameter-free, stateless layer unless a subclass says otherwise."""

    def init_params(self, rng):
        """Learnable parameters as a dict of arrays ({} if none)."""
        return {}

    def init_state(self):
        """Buffers such as running statistics ({} if none)."""
        return {}

    def forward(self, x, params, *, train=False, rng=None, state=None):
        raise NotImplementedError

    def backward(self, dy, cache):
        raise NotImplementedError

    def config(self):
        """JSON-able description: {"type": class name, **hyperparameters}."""
        return {"type": type(self).__name__, **vars(self)}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


def _xp_of(rng):
    """The array module of a NumPy or CuPy Generator (a zero-size draw does not advance it)."""
    return get_array_module(rng.random(0))


def _sigmoid(x):
    """Logistic function without overflow for any x."""
    xp = get_array_module(x)
    e = xp.exp(-abs(x))  # in (0, 1]
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


class Linear(Layer):
    """Affine map y = x @ W + b.

    Shapes: x (N, D) -> y (N, M); W (D, M); b (M,). dtype: that of x.
    """

    def __init__(self, *, in_features, out_features):
        self.in_features = int(in_features)
        self.out_features = int(out_features)

    def init_params(self, rng):
        W = he_normal(self.in_features, self.out_features, rng=rng)
        return {"W": W, "b": get_array_module(W).zeros(self.out_features)}

    def forward(self, x, params, *, train=False, rng=None, state=None):
        W, b = params["W"], params["b"]
        if not _shareable(x, W, b):
            return x @ W + b, (x, W)
        y = np.empty((x.shape[0], W.shape[1]), dtype=x.dtype)

        def share(n0, n1):  # rows n0..n1-1 (reference/parallel.py)
            np.matmul(x[n0:n1], W, out=y[n0:n1])
            y[n0:n1] += b
        parallel.shares(np, x.shape[0], x.nbytes + y.nbytes, share)
        return y, (x, W)

    def backward(self, dy, cache):
        x, W = cache
        if not _shareable(dy, x, W):
            return dy @ W.T, {"W": x.T @ dy, "b": dy.sum(axis=0)}
        dx = np.empty((dy.shape[0], W.shape[0]), dtype=dy.dtype)

        def share(n0, n1):  # rows n0..n1-1 of dx, and their part of dW
            np.matmul(dy[n0:n1], W.T, out=dx[n0:n1])
            return x[n0:n1].T @ dy[n0:n1]
        parts = parallel.shares(np, dy.shape[0], x.nbytes + dx.nbytes, share)
        dW = parts[0]
        for part in parts[1:]:
            dW += part
        return dx, {"W": dW, "b": dy.sum(axis=0)}


def _shareable(a, *others):
    """True for 2-d NumPy arrays of one float dtype, which Linear may split into shares of rows."""
    return (type(a) is np.ndarray and a.ndim == 2 and a.dtype.kind == "f" and parallel.enabled()
            and all(type(o) is np.ndarray and o.dtype == a.dtype for o in others))


class Sigmoid(Layer):
    """Logistic sigmoid 1 / (1 + exp(-x)), elementwise and stable for any x.

    Shapes: x (any) -> y (same). dtype: that of x.
    """

    def forward(self, x, params, *, train=False, rng=None, state=None):
        y = _sigmoid(x)
        return y, y

    def backward(self, dy, cache):
        y = cache
        return dy * y * (1 - y), {}


class Tanh(Layer):
    """Hyperbolic tangent, elementwise.

    Shapes: x (any) -> y (same). dtype: that of x.
    """

    def forward(self, x, params, *, train=False, rng=None, state=None):
        y = get_array_module(x).tanh(x)
        return y, y

    def backward(self, dy, cache):
        y = cache
        return dy * (1 - y * y), {}


class ReLU(Layer):
    """Rectified linear unit max(x, 0); derivative 0 at x = 0.

    Shapes: x (any) -> y (same). dtype: that of x.
    """

    def forward(self, x, params, *, train=False, rng=None, state=None):
        # fmax(x, 0) is where(x > 0, x, 0) (NaN and -inf give 0), but elementwise: it keeps the
        # memory layout of x and does not branch per element (where is 20x slower on random signs).
        # At evaluation time the cache is y, and a backward pass takes the mask as y > 0 (the same
        # as x > 0): one pass instead of two when no backward pass comes.
        if not _shareable_nd(x):
            y = get_array_module(x).fmax(x, 0)
            return y, (x > 0 if train else y)
        y = np.empty_like(x)
        mask = np.empty_like(x, dtype=bool) if train else None

        def share(n0, n1):  # samples n0..n1-1 (reference/parallel.py)
            np.fmax(x[n0:n1], 0, out=y[n0:n1])
            if mask is not None:
                np.greater(x[n0:n1], 0, out=mask[n0:n1])
        parallel.shares(np, x.shape[0], x.nbytes, share)
        return y, (mask if train else y)

    def backward(self, dy, cache):
        # dy * mask is where(x > 0, dy, 0) for finite dy (a masked -dy gives -0.0)
        if not _shareable_nd(dy) or dy.shape != cache.shape:
            return dy * (cache if cache.dtype == bool else cache > 0), {}
        dx = np.empty_like(dy)

        def share(n0, n1):
            mask = cache[n0:n1] if cache.dtype == bool else cache[n0:n1] > 0
            np.multiply(dy[n0:n1], mask, out=dx[n0:n1])
        parallel.shares(np, dy.shape[0], dy.nbytes, share)
        return dx, {}


def _shareable_nd(a):
    """True for a NumPy float array with a batch axis, which a layer may split into shares of samples."""
    return type(a) is np.ndarray and a.ndim >= 1 and a.dtype.kind == "f" and parallel.enabled()


class LeakyReLU(Layer):
    """x for x > 0, negative_slope * x otherwise (also the derivative's branch at 0).

    Shapes: x (any) -> y (same). dtype: that of x.
    """

    def __init__(self, *, negative_slope=0.01):
        self.negative_slope = float(negative_slope)

    def forward(self, x, params, *, train=False, rng=None, state=None):
        positive = x > 0
        return get_array_module(x).where(positive, x, x * self.negative_slope), positive

    def backward(self, dy, cache):
        return get_array_module(dy).where(cache, dy, dy * self.negative_slope), {}


class ELU(Layer):
    """Exponential linear unit: x for x > 0, alpha * (exp(x) - 1) otherwise.

    Shapes: x (any) -> y (same). dtype: that of x.
    Notes: for x <= 0 the derivative alpha * exp(x) equals y + alpha.
    """

    def __init__(self, *, alpha=1.0):
        self.alpha = float(alpha)

    def forward(self, x, params, *, train=False, rng=None, state=None):
        xp = get_array_module(x)
        positive = x > 0
        y = xp.where(positive, x, self.alpha * xp.expm1(xp.minimum(x, 0)))
        return y, (positive, y)

    def backward(self, dy, cache):
        positive, y = cache
        return get_array_module(dy).where(positive, dy, dy * (y + self.alpha)), {}


class Softplus(Layer):
    """Smooth ReLU log(1 + exp(beta * x)) / beta, stable for any x.

    Shapes: x (any) -> y (same). dtype: that of x.
    Notes: computed as (max(z, 0) + log1p(exp(-|z|))) / beta with z = beta * x;
    the derivative is sigmoid(z).
    """

    def __init__(self, *, beta=1.0):
        self.beta = float(beta)

    def forward(self, x, params, *, train=False, rng=None, state=None):
        xp = get_array_module(x)
        z = x * self.beta
        return (xp.maximum(z, 0) + xp.log1p(xp.exp(-abs(z)))) / self.beta, z

    def backward(self, dy, cache):
        return dy * _sigmoid(cache), {}


class Softmax(Layer):
    """Softmax over the last axis, exp(x - max) / sum(exp(x - max)).

    Shapes: x (..., C) -> y (..., C). dtype: that of x.
    Notes: dx = y * (dy - sum(dy * y)) along the last axis.
    """

    def forward(self, x, params, *, train=False, rng=None, state=None):
        xp = get_array_module(x)
        e = xp.exp(x - x.max(axis=-1, keepdims=True))
        y = e / e.sum(axis=-1, keepdims=True)
        return y, y

    def backward(self, dy, cache):
        y = cache
        return y * (dy - (dy * y).sum(axis=-1, keepdims=True)), {}


class LogSoftmax(Layer):
    """Log of the softmax over the last axis, z - log(sum(exp(z))) with z = x - max.

    Shapes: x (..., C) -> y (..., C). dtype: that of x.
    Notes: dx = dy - softmax(x) * sum(dy) along the last axis.
    """

    def forward(self, x, params, *, train=False, rng=None, state=None):
        xp = get_array_module(x)
        z = x - x.max(axis=-1, keepdims=True)
        y = z - xp.log(xp.exp(z).sum(axis=-1, keepdims=True))
        return y, y

    def backward(self, dy, cache):
        xp = get_array_module(dy)
        return dy - xp.exp(cache) * dy.sum(axis=-1, keepdims=True), {}


class Dropout(Layer):
    """Inverted dropout: at train time zero each element with probability p, scale the rest by 1/(1-p).

    Shapes: x (any) -> y (same). dtype: that of x.
    Notes: keep = rng.random(x.shape) >= p; identity at evaluation time (or when p == 0).
    """

    def __init__(self, *, p=0.5):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability must be in [0, 1], got {p}")
        self.p = float(p)

    def forward(self, x, params, *, train=False, rng=None, state=None):
        if not train or self.p == 0.0:
            return x, None
        if rng is None:
            raise ValueError("Dropout needs an rng at train time")
        xp = get_array_module(x)
        keep = xp.asarray(rng.random(x.shape)) >= self.p
        scale = 0.0 if self.p == 1.0 else 1.0 / (1.0 - self.p)
        mask = keep.astype(x.dtype) * scale
        return x * mask, mask

    def backward(self, dy, cache):
        return (dy if cache is None else dy * cache), {}


class BatchNorm1d(Layer):
    """Batch normalisation y = gamma * (x - mean) / sqrt(var + eps) + beta, per feature.

    Shapes: x (N, D) -> y (N, D); gamma, beta (D,); running_mean, running_var (D,).
    dtype: that of x.
    Notes: at train time uses the batch mean and biased variance and replaces the running
    statistics in `state` (momentum update, unbiased variance, as PyTorch); at evaluation
    time uses the running statistics as constants. With xhat the normalised input:
    dx = (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) / sqrt(var + eps), dxhat = dy * gamma.
    """

    def __init__(self, *, num_features, eps=1e-5, momentum=0.1):
        self.num_features = int(num_features)
        self.eps = float(eps)
        self.momentum = float(momentum)

    def init_params(self, rng):
        xp = _xp_of(rng)
        return {"gamma": xp.ones(self.num_features), "beta": xp.zeros(self.num_features)}

    def init_state(self):
        """NumPy zeros and ones; move them to the device with the params."""
        return {"running_mean": np.zeros(self.num_features), "running_var": np.ones(self.num_features)}

    def forward(self, x, params, *, train=False, rng=None, state=None):
        xp = get_array_module(x)
        if train:
            n = x.shape[0]
            if n < 2:
                raise ValueError("BatchNorm1d needs more than one sample per batch at train time")
            mean = x.mean(axis=0)
            xc = x - mean
            var = (xc * xc).mean(axis=0)
            if state is not None:
                m, rm, rv = self.momentum, state["running_mean"], state["running_var"]
                state["running_mean"] = ((1 - m) * rm + m * mean).astype(rm.dtype, copy=False)
                state["running_var"] = ((1 - m) * rv + m * var * (n / (n - 1))).astype(rv.dtype, copy=False)
        else:
            if state is None:
                raise ValueError("BatchNorm1d needs its state (running statistics) at evaluation time")
            xc = x - state["running_mean"].astype(x.dtype, copy=False)
            var = state["running_var"].astype(x.dtype, copy=False)
        inv_std = 1 / xp.sqrt(var + self.eps)
        xhat = xc * inv_std
        return params["gamma"] * xhat + params["beta"], (xhat, inv_std, params["gamma"], train)

    def backward(self, dy, cache):
        xhat, inv_std, gamma, train = cache
        dxhat = dy * gamma
        if train:
            dxhat = dxhat - dxhat.mean(axis=0) - xhat * (dxhat * xhat).mean(axis=0)
        return dxhat * inv_std, {"gamma": (dy * xhat).sum(axis=0), "beta": dy.sum(axis=0)}


class Flatten(Layer):
    """Flatten all but the batch axis.

    Shapes: x (N, ...) -> y (N, prod(...)). dtype: that of x.
    """

    def forward(self, x, params, *, train=False, rng=None, state=None):
        return x.reshape(x.shape[0], -1), x.shape

    def backward(self, dy, cache):
        return dy.reshape(cache), {}


class Sequential(Layer):
    """Chain of layers; params, state and grads are lists with one entry per layer.

    Shapes: those of the first layer's input and the last layer's output.
    """

    def __init__(self, *, layers):
        self.layers = list(layers)

    def init_params(self, rng):
        return [layer.init_params(rng) for layer in self.layers]

    def init_state(self):
        return [layer.init_state() for layer in self.layers]

    # On NumPy with several cores a chain of REGION_SAFE layers runs in one parallel.region():
    # BLAS single-threaded, so that its idle threads do not spin between the layers' products
    # while the layers run their shares of samples side by side (reference/parallel.py). Other
    # layers (the recurrent ones, a subclass) keep BLAS's own threads.
    def _region(self):
        if all(type(layer) in REGION_SAFE for layer in self.layers):
            return parallel.region()
        return contextlib.nullcontext()

    def forward(self, x, params, *, train=False, rng=None, state=None):
        states = state if state is not None else [None] * len(self.layers)
        caches = []
        with self._region():
            for layer, p, s in zip(self.layers, params, states, strict=True):
                x, cache = layer.forward(x, p, train=train, rng=rng, state=s)
                caches.append(cache)
        return x, caches

    def backward(self, dy, cache):
        grads = []
        with self._region():
            for layer, c in zip(reversed(self.layers), reversed(cache), strict=True):
                dy, g = layer.backward(dy, c)
                grads.append(g)
        return dy, grads[::-1]

    def config(self):
        return {"type": "Sequential", "layers": [layer.config() for layer in self.layers]}


LAYERS = {cls.__name__: cls for cls in (
    Linear, Sigmoid, Tanh, ReLU, LeakyReLU, ELU, Softplus, Softmax, LogSoftmax,
    Dropout, BatchNorm1d, Flatten, Sequential)}
# The layer types (exactly these, not subclasses) that run as well or better with BLAS single-
# threaded: they split their large products into shares of samples (reference/parallel.py) or
# make no large ones. A Sequential of only these runs in one parallel.region(); conv.py adds its own.
REGION_SAFE = set(LAYERS.values())


def from_config(config):
    """Build a layer from its config dict (as `Layer.config()` writes it).

    A list of dicts, or its JSON string (the `arch` entry of mlp_weights.npz), gives a Sequential.
    """
    if isinstance(config, str):
        config = json.loads(config)
    if isinstance(config, list):
        return Sequential(layers=[from_config(c) for c in config])
    kwargs = {k: v for k, v in config.items() if k != "type"}
    if config["type"] == "Sequential":
        kwargs["layers"] = [from_config(c) for c in kwargs["layers"]]
    if config["type"] not in LAYERS:
        raise ValueError(f"unknown layer type {config['type']!r}")
    return LAYERS[config["type"]](**kwargs)
