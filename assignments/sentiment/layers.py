# From the `mlp` assignment: this is the stub of its layers.py. Copy your own
# mlp/layers.py over this file (`dlgrade check` names it while it is still the stub).
"""Layers for the `mlp` assignment: forward and backward passes in plain NumPy.

Every layer follows one contract (see `Layer`): the object holds only hyperparameters,
parameters travel as a dict, and `forward` returns `(y, cache)` where the cache is read only by
the same layer's `backward`. Outputs and gradients have the dtype of the input `x` (float32 in,
float32 out). Write vectorised code: no Python loops over samples or features.

`backward(dy, cache) -> (dx, grads)` receives dy, the gradient of the loss with respect to the
layer's output y, and returns the gradients of the loss with respect to x and to every
parameter: deriving them from the forward definition is the exercise. Check them with a
numerical gradient (`dlgrade check` runs one for every backward). The CPU/GPU helpers
(`array_module`, ...) are given in `backend.py`.
"""
import numpy as np

try:  # imported as part of a package
    from . import init
    from .backend import array_module, device_module, to_device, to_numpy  # noqa: F401 (given)
except ImportError:  # imported as a top-level module, with this folder on sys.path
    import init
    from backend import array_module, device_module, to_device, to_numpy  # noqa: F401 (given)


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
        """y = x @ W + b. Cache what backward needs."""
        # YOUR CODE HERE
        raise NotImplementedError

    def backward(self, dy, cache):
        """Gradients of the loss with respect to x, W and b.

        Shapes: dy (N, M) -> dx (N, D); grads {"W": (D, M), "b": (M,)}. dtype: that of dy.
        Hint: each gradient has the shape of what it differentiates; b is shared by the whole
        batch.
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
        """dx, the gradient with respect to x. Shapes: dy (any) -> dx (same); grads {}."""
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
        """dx, the gradient with respect to x. Shapes: dy (any) -> dx (same); grads {}."""
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
        """dx, the gradient with respect to x. Shapes: dy (any) -> dx (same); grads {}."""
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
        """dx, the gradient with respect to x. Shapes: dy (any) -> dx (same); grads {}."""
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
        """dx, the gradient with respect to x. Shapes: dy (any) -> dx (same); grads {}.

        Hint: the cache may hold y instead of x if the derivative can be written with it.
        """
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
        """dx, the gradient with respect to x. Shapes: dy (any) -> dx (same); grads {}."""
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
        """dx, the gradient with respect to x. Shapes: dy (..., C) -> dx (..., C); grads {}.

        Hint: every output y_i of a row depends on every input x_j of that row: dx is the
        Jacobian (C x C per row) applied to dy, computed without forming the Jacobian.
        """
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
        """dx, the gradient with respect to x. Shapes: dy (..., C) -> dx (..., C); grads {}.

        Hint: as for Softmax, each output of a row depends on every input of that row.
        """
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
        """dx for the forward that made the cache (the same mask and scale; evaluation too).

        Shapes: dy (any) -> dx (same); grads {}.
        """
        # YOUR CODE HERE
        raise NotImplementedError


class BatchNorm1d(Layer):
    """Batch normalisation over the batch axis: y = gamma * (x - mean) / sqrt(var + eps) + beta.

    Shapes: x (N, D) -> y (N, D); gamma, beta, running_mean, running_var (D,). dtype: that of x.

    At train time mean and var are the batch mean and biased batch variance, and the running
    statistics are replaced by `(1 - momentum) * running + momentum * batch` (with the unbiased
    variance, N / (N - 1) times the biased one, for `running_var`), as PyTorch does. At evaluation
    time the running statistics are used and left unchanged.
    Hint: at train time mean and var are functions of x too; derive dx on paper from the
    computation graph, then simplify it to a vectorised expression.
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

        Shapes: dy (N, D) -> dx (N, D); grads {"gamma": (D,), "beta": (D,)}. dtype: that of dy.
        At evaluation time the running statistics are constants: no gradient flows through them.
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
