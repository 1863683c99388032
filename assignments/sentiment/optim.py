# From the `mlp` assignment: this is the stub of its optim.py. Copy your own
# mlp/optim.py over this file (`dlgrade check` names it while it is still the stub).
"""Optimizers for the `mlp` assignment, with PyTorch's (`torch.optim`) update rules.

An optimizer holds only hyperparameters. `init_state(params) -> state` makes its buffers and
`step(params, grads, state) -> (new_params, new_state)` is pure: it returns new dicts of new
arrays and modifies none of `params`, `grads` or `state` (no `+=` on them). `params` and
`grads` are dicts name -> array with the same keys; the state layout is yours to choose.
Every optimizer takes `weight_decay` (L2): g = grad + weight_decay * param before the update.
"""
import numpy as np


class Optimizer:
    """Base class. (Given code.)"""

    def __init__(self, *, lr, weight_decay=0.0):
        self.lr = lr
        self.weight_decay = weight_decay

    def init_state(self, params):
        raise NotImplementedError

    def step(self, params, grads, state):
        raise NotImplementedError

    def _grad(self, param, grad):
        """The gradient with L2 weight decay added: grad + weight_decay * param.

        Every optimizer's `step` calls this for each parameter before its update rule.
        """
        # YOUR CODE HERE
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Plain gradient descent: p = p - lr * g.

    Shapes: each new param has the shape and dtype of the old one.
    """

    def __init__(self, *, lr, weight_decay=0.0):
        super().__init__(lr=lr, weight_decay=weight_decay)

    def init_state(self, params):
        # YOUR CODE HERE
        raise NotImplementedError

    def step(self, params, grads, state):
        # YOUR CODE HERE
        raise NotImplementedError


class Momentum(Optimizer):
    """Heavy-ball momentum: v = momentum * v + g; p = p - lr * v (v starts at 0).

    Shapes: v has the shape of its parameter.
    """

    def __init__(self, *, lr, momentum=0.9, weight_decay=0.0):
        super().__init__(lr=lr, weight_decay=weight_decay)
        self.momentum = momentum

    def init_state(self, params):
        # YOUR CODE HERE
        raise NotImplementedError

    def step(self, params, grads, state):
        # YOUR CODE HERE
        raise NotImplementedError


class Nesterov(Optimizer):
    """Nesterov momentum, PyTorch's form: v = momentum * v + g; p = p - lr * (g + momentum * v).

    Shapes: v has the shape of its parameter.
    """

    def __init__(self, *, lr, momentum=0.9, weight_decay=0.0):
        super().__init__(lr=lr, weight_decay=weight_decay)
        self.momentum = momentum

    def init_state(self, params):
        # YOUR CODE HERE
        raise NotImplementedError

    def step(self, params, grads, state):
        # YOUR CODE HERE
        raise NotImplementedError


class AdaGrad(Optimizer):
    """AdaGrad: s = s + g^2; p = p - lr * g / (sqrt(s) + eps) (s starts at 0).

    Shapes: s has the shape of its parameter.
    """

    def __init__(self, *, lr=0.01, eps=1e-10, weight_decay=0.0):
        super().__init__(lr=lr, weight_decay=weight_decay)
        self.eps = eps

    def init_state(self, params):
        # YOUR CODE HERE
        raise NotImplementedError

    def step(self, params, grads, state):
        # YOUR CODE HERE
        raise NotImplementedError


class RMSProp(Optimizer):
    """RMSProp: s = alpha * s + (1 - alpha) * g^2; p = p - lr * g / (sqrt(s) + eps).

    Shapes: s has the shape of its parameter.
    """

    def __init__(self, *, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0):
        super().__init__(lr=lr, weight_decay=weight_decay)
        self.alpha = alpha
        self.eps = eps

    def init_state(self, params):
        # YOUR CODE HERE
        raise NotImplementedError

    def step(self, params, grads, state):
        # YOUR CODE HERE
        raise NotImplementedError


class Adadelta(Optimizer):
    """Adadelta: s = rho * s + (1 - rho) * g^2; d = sqrt(u + eps) / sqrt(s + eps) * g;
    u = rho * u + (1 - rho) * d^2; p = p - lr * d (s and u start at 0).

    Shapes: s and u have the shape of their parameter.
    """

    def __init__(self, *, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
        super().__init__(lr=lr, weight_decay=weight_decay)
        self.rho = rho
        self.eps = eps

    def init_state(self, params):
        # YOUR CODE HERE
        raise NotImplementedError

    def step(self, params, grads, state):
        # YOUR CODE HERE
        raise NotImplementedError


class Adam(Optimizer):
    """Adam with bias correction, t counting steps from 1:
    m = b1 * m + (1 - b1) * g; v = b2 * v + (1 - b2) * g^2;
    p = p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).

    Shapes: m and v have the shape of their parameter; t is a step counter.
    """

    def __init__(self, *, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        super().__init__(lr=lr, weight_decay=weight_decay)
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps

    def init_state(self, params):
        # YOUR CODE HERE
        raise NotImplementedError

    def step(self, params, grads, state):
        # YOUR CODE HERE
        raise NotImplementedError
