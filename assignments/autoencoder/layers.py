# From the `mlp` assignment: this is the stub of its layers.py. Copy your own
# mlp/layers.py over this file (`dlgrade check` names it while it is still the stub).
"""Layers for the `mlp` assignment: forward and backward passes in plain NumPy.

Every layer follows one contract (see `Layer`): the object holds only hyperparameters,
parameters travel as a dict, and `forward` returns `(y, cache)` where the cache is read only by
the same layer's `backward`. Outputs and gradients have the dtype of the input `x` (float32 in,
float32 out). Write vectorised code: no Python loops over samples or features.
"""
import numpy as np

try:  # imported as part of a package
    from . import init
except ImportError:  # imported as a top-level module, with this folder on sys.path
    import init


def array_module(x):
    """The array module of `x`: `cupy` for a CuPy array, else `numpy`. (Given code.)

    Code written as `xp = array_module(x)` followed by `xp.zeros(...)`, `xp.asarray(...)` runs
    unchanged on the GPU (`--device cuda`); NumPy functions such as `np.where` or `np.exp` also
    work on CuPy arrays, but those that make a new array from nothing (`np.zeros`) or from
    host data (`np.asarray`) make a NumPy one.
    """
    if type(x).__module__.split(".")[0] == "cupy":
        import cupy
        return cupy
    return np


def device_module(device):
    """The array module of a device name: "cpu" -> numpy, "cuda" -> cupy. (Given code.)

    Raises RuntimeError with a one-line reason when CuPy is missing or finds no GPU.
    """
    if device == "cpu":
        return np
    if device != "cuda":
        raise ValueError(f"unknown device {device!r} (use 'cpu' or 'cuda')")
    try:
        import cupy
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # not installed, no driver, no GPU
        raise RuntimeError(f"--device cuda needs CuPy and a CUDA device ({type(exc).__name__}: {exc})"
                           .splitlines()[0]) from None
    if count < 1:
        raise RuntimeError("--device cuda needs a CUDA device: CuPy finds none")
    return cupy


def to_numpy(x):
    """A NumPy array from a NumPy or CuPy array (a CuPy array is copied to the host). (Given code.)"""
    return x.get() if type(x).__module__.split(".")[0] == "cupy" else np.asarray(x)


def to_device(xp, tree):
    """The arrays of a (nested) dict or list moved to the array module `xp`. (Given code.)"""
    if isinstance(tree, dict):
        return {k: to_device(xp, v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [to_device(xp, v) for v in tree]
    return to_numpy(tree) if xp is np else xp.asarray(tree)


class Layer:
    """Base class: a layer with no parameters and no state. (Given code.)

    forward(x, params, *, train=False, rng=None, state=None) -> (y, cache)
        `params` is a dict of arrays that forward must not modify; `train` switches Dropout and
        BatchNorm between their training and evaluation behaviour; `rng` is a
        `numpy.random.Generator` (on the GPU too: move its draws with `xp.asarray`), used only by
        Dropout at train time; `state` holds buffers
        (BatchNorm's running statistics), the only argument a forward pass may update.
    backward(dy, cache) -> (dx, grads)
        `dy` is the gradient of the loss with respect to `y`; `grads` has the keys of `params`.
    """

    def init_params(self, rng):
        """Learnable parameters as a dict of arrays ({} if none)."""
        return {}

    def init_state(self):
        """Buffers that are not learned, such as running statistics ({} if none)."""
        return {}

    def forward(self, x, params, *, train=False, rng=None, state=None):
        raise NotImplementedError

    def backward(self, dy, cache):
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


# ----------------------------------------------------------------------------- affine
class Linear(Layer):
    """Affine map y = x @ W + b.

    Shapes: x (N, D) -> y (N, M); W (D, M); b (M,). dtype: that of x.
    """

    def __init__(self, *, in_features, out_features):
        self.in_features = in_features
        self.out_features = out_features

    def init_params(self, rng):
        """He-normal W (D, M) and zero b (M,), float64 (cast them to train in float32)."""
        return {"W": init.he_normal(self.in_features, self.out_features, rng=rng),
                "b": np.zeros(self.out_features)}

    def forward(self, x, params, *, train=False, rng=None, state=None):
        """y = x @ W + b. Cache what backward needs to form dx, dW and db."""
        # YOUR CODE HERE
        raise NotImplementedError

    def backward(self, dy, cache):
        """dx = dy @ W.T, dW = x.T @ dy, db = sum of dy over the batch.

        Shapes: dy (N, M) -> dx (N, D); grads {"W": (D, M), "b": (M,)}.
        Hint: check each gradient has the shape of what it differentiates.
        """
        # YOUR CODE HERE
        raise NotImplementedError


# ----------------------------------------------------------------------------- activations
class Sigmoid(Layer):
    """Logistic function y = 1 / (1 + exp(-x)), elementwise.

    Shapes: x (any) -> y (same). dtype: that of x.
    Hint: exp(-x) overflows for very negative x; sigmoid(x) = (1 + tanh(x / 2)) / 2 does not.
    """

    def forward(self, x, params, *, train=False, rng=None, state=None):
        # YOUR CODE HERE
        raise NotImplementedError

    def backward(self, dy, cache):
        """dx = dy * y * (1 - y)."""
        # YOUR CODE HERE
        raise NotImplementedError


class Tanh(Layer):
    """Hyperbolic tangent y = tanh(x), elementwise.

    Shapes: x (any) -> y (same). dtype: that of x.
    """

    def forward(self, x, params, *, train=False, rng=None, state=None):
        # YOUR CODE HERE
        raise NotImplementedError

    def backward(self, dy, cache):
        """dx = dy * (1 - y**2)."""
        # YOUR CODE HERE
        raise NotImplementedError


class ReLU(Layer):
    """Rectified linear unit y = max(x, 0), elementwise.

    Shapes: x (any) -> y (same). dtype: that of x.
    Hint: at x == 0 use the gradient of the left branch (0), as PyTorch does.
    """

    def forward(self, x, params, *, train=False, rng=None, state=None):
        # YOUR CODE HERE
        raise NotImplementedError

    def backward(self, dy, cache):
        """dx = dy where x > 0, else 0."""
        # YOUR CODE HERE
        raise NotImplementedError


class LeakyReLU(Layer):
    """Leaky ReLU y = x if x > 0 else negative_slope * x, elementwise.

    Shapes: x (any) -> y (same). dtype: that of x.
    """

    def __init__(self, *, negative_slope=0.01):
        self.negative_slope = negative_slope

    def forward(self, x, params, *, train=False, rng=None, state=None):
        # YOUR CODE HERE
        raise NotImplementedError

    def backward(self, dy, cache):
        """dx = dy where x > 0, else negative_slope * dy."""
        # YOUR CODE HERE
        raise NotImplementedError


class ELU(Layer):
    """Exponential linear unit y = x if x > 0 else alpha * (exp(x) - 1), elementwise.

    Shapes: x (any) -> y (same). dtype: that of x.
    Hint: `np.where` evaluates both branches; keep exp away from large positive x.
    """

    def __init__(self, *, alpha=1.0):
        self.alpha = alpha

    def forward(self, x, params, *, train=False, rng=None, state=None):
        # YOUR CODE HERE
        raise NotImplementedError

    def backward(self, dy, cache):
        """dx = dy where x > 0, else dy * alpha * exp(x) = dy * (y + alpha)."""
        # YOUR CODE HERE
        raise NotImplementedError


class Softplus(Layer):
    """Smooth ReLU y = log(1 + exp(beta * x)) / beta, elementwise, stable for any x.

    Shapes: x (any) -> y (same). dtype: that of x.
    Hint: log(1 + exp(z)) = max(z, 0) + log(1 + exp(-|z|)) never overflows (`np.logaddexp`).
    """

    def __init__(self, *, beta=1.0):
        self.beta = beta

    def forward(self, x, params, *, train=False, rng=None, state=None):
        # YOUR CODE HERE
        raise NotImplementedError

    def backward(self, dy, cache):
        """dx = dy * sigmoid(beta * x)."""
        # YOUR CODE HERE
        raise NotImplementedError


class Softmax(Layer):
    """Softmax over the last axis: y_i = exp(x_i) / sum_j exp(x_j).

    Shapes: x (..., C) -> y (..., C). dtype: that of x.
    Hint: subtracting the row maximum first changes nothing mathematically and avoids overflow.
    """

    def forward(self, x, params, *, train=False, rng=None, state=None):
        # YOUR CODE HERE
        raise NotImplementedError

    def backward(self, dy, cache):
        """dx = y * (dy - sum_j dy_j * y_j), a Jacobian-vector product per row."""
        # YOUR CODE HERE
        raise NotImplementedError


class LogSoftmax(Layer):
    """Log-softmax over the last axis: y_i = x_i - log sum_j exp(x_j).

    Shapes: x (..., C) -> y (..., C). dtype: that of x.
    Hint: shift by the row maximum before exponentiating (log-sum-exp trick).
    """

    def forward(self, x, params, *, train=False, rng=None, state=None):
        # YOUR CODE HERE
        raise NotImplementedError

    def backward(self, dy, cache):
        """dx = dy - softmax(x) * sum_j dy_j, with softmax(x) = exp(y)."""
        # YOUR CODE HERE
        raise NotImplementedError


# ----------------------------------------------------------------------------- regularisation
class Dropout(Layer):
    """Inverted dropout: at train time zero each element with probability p and scale the rest
    by 1 / (1 - p); at evaluation time y = x.

    Shapes: x (any) -> y (same). dtype: that of x.
    Hint: draw the mask as `keep = rng.random(x.shape) >= p` and reuse it in backward (on the
    GPU, `rng` is still a NumPy Generator: move the draw with `array_module(x).asarray`).
    """

    def __init__(self, *, p=0.5):
        self.p = p

    def forward(self, x, params, *, train=False, rng=None, state=None):
        # YOUR CODE HERE
        raise NotImplementedError

    def backward(self, dy, cache):
        """dx = dy * mask * 1 / (1 - p) with the forward's mask (dx = dy at evaluation)."""
        # YOUR CODE HERE
        raise NotImplementedError


class BatchNorm1d(Layer):
    """Batch normalisation over the batch axis: y = gamma * (x - mean) / sqrt(var + eps) + beta.

    Shapes: x (N, D) -> y (N, D); gamma, beta, running_mean, running_var (D,). dtype: that of x.

    At train time mean and var are the batch mean and biased batch variance, and the running
    statistics are replaced by `(1 - momentum) * running + momentum * batch` (with the unbiased
    variance, N / (N - 1) times the biased one, for `running_var`), as PyTorch does. At evaluation
    time the running statistics are used and left unchanged.
    Hint: at train time mean and var depend on x, so dx has three terms; derive it on paper
    from the computation graph, then simplify to a vectorised formula.
    """

    def __init__(self, *, num_features, eps=1e-5, momentum=0.1):
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum

    def init_params(self, rng):
        """gamma = 1, beta = 0 (D,), float64."""
        return {"gamma": np.ones(self.num_features), "beta": np.zeros(self.num_features)}

    def init_state(self):
        """running_mean = 0, running_var = 1 (D,), float64."""
        return {"running_mean": np.zeros(self.num_features),
                "running_var": np.ones(self.num_features)}

    def forward(self, x, params, *, train=False, rng=None, state=None):
        # YOUR CODE HERE
        raise NotImplementedError

    def backward(self, dy, cache):
        """Gradients for the forward that made the cache (batch statistics at train time).

        Shapes: dy (N, D) -> dx (N, D); grads {"gamma": (D,), "beta": (D,)}.
        Notes: with x_hat the normalised input and g = dy * gamma, at train time
        dx = inv_std * (g - mean(g) - x_hat * mean(g * x_hat)), means over the batch.
        """
        # YOUR CODE HERE
        raise NotImplementedError


# ----------------------------------------------------------------------------- containers
class Flatten(Layer):
    """Flatten all axes but the first. (Given code.)

    Shapes: x (N, ...) -> y (N, prod(...)). dtype: that of x.
    """

    def forward(self, x, params, *, train=False, rng=None, state=None):
        return x.reshape(x.shape[0], -1), x.shape

    def backward(self, dy, cache):
        return dy.reshape(cache), {}


class Sequential(Layer):
    """A chain of layers: y = layers[-1](...layers[1](layers[0](x))).

    Shapes: x -> y as the layers make them; `params`, `state` and `grads` are lists with one
    dict per layer, in layer order.
    """

    def __init__(self, *, layers):
        self.layers = list(layers)

    def init_params(self, rng):
        """A list with each layer's `init_params(rng)`, in layer order."""
        # YOUR CODE HERE
        raise NotImplementedError

    def init_state(self):
        """A list with each layer's `init_state()`, in layer order."""
        # YOUR CODE HERE
        raise NotImplementedError

    def forward(self, x, params, *, train=False, rng=None, state=None):
        """Feed x through the layers, passing `train`, `rng` and `state[i]` to layer i."""
        # YOUR CODE HERE
        raise NotImplementedError

    def backward(self, dy, cache):
        """Backpropagate dy through the layers in reverse; grads come back in layer order."""
        # YOUR CODE HERE
        raise NotImplementedError
