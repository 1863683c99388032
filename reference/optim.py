"""Reference optimizers for the `mlp` curriculum (the contract is docs/contracts.md).

`step(params, grads, state) -> (new_params, new_state)` is pure: it returns new dicts of new
arrays and modifies none of its arguments. Formulas are PyTorch's (`torch.optim`); every
optimizer takes `lr` and `weight_decay` (L2: g = grad + weight_decay * param).

The state is a flat dict of arrays, ready for `numpy.savez`: "t" (a 0-d int64 array, the number
of steps taken) and one "{buffer}.{param name}" entry per buffer and parameter (for example
"m.W", "v.W"), each of the parameter's shape and dtype.
"""
from .backend import get_array_module


class Optimizer:
    """Base class: subclasses name their per-parameter `buffers` and implement `update`."""

    buffers = ()

    def __init__(self, *, lr, weight_decay=0.0):
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)

    def init_state(self, params):
        """Step counter t = 0 and zero buffers shaped like each parameter."""
        xp = get_array_module(*params.values())
        state = {"t": xp.asarray(0, dtype=xp.int64)}
        for b in self.buffers:
            state.update({f"{b}.{k}": xp.zeros_like(p) for k, p in params.items()})
        return state

    def step(self, params, grads, state):
        """One update of every parameter; returns (new_params, new_state)."""
        t = int(state["t"]) + 1  # a Python int: keeps b ** t from promoting float32 to float64
        xp = get_array_module(*params.values())
        new_params, new_state = {}, {"t": xp.asarray(t, dtype=xp.int64)}
        for k, p in params.items():
            g = grads[k] if self.weight_decay == 0 else grads[k] + self.weight_decay * p
            bufs = {b: state[f"{b}.{k}"] for b in self.buffers}
            new_params[k], bufs = self.update(p, g, bufs, t)
            new_state.update({f"{b}.{k}": v for b, v in bufs.items()})
        return new_params, new_state

    def update(self, p, g, bufs, t):
        """New value of one parameter and of its buffers, given its (decayed) gradient g."""
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Plain gradient descent: p -= lr * g."""

    def update(self, p, g, bufs, t):
        return p - self.lr * g, {}


class Momentum(Optimizer):
    """Heavy-ball momentum (PyTorch SGD with momentum): v = momentum * v + g; p -= lr * v."""

    buffers = ("v",)

    def __init__(self, *, lr, momentum=0.9, weight_decay=0.0):
        super().__init__(lr=lr, weight_decay=weight_decay)
        self.momentum = float(momentum)

    def update(self, p, g, bufs, t):
        v = self.momentum * bufs["v"] + g
        return p - self.lr * v, {"v": v}


class Nesterov(Momentum):
    """Nesterov momentum (PyTorch's form): v = momentum * v + g; p -= lr * (g + momentum * v)."""

    def update(self, p, g, bufs, t):
        v = self.momentum * bufs["v"] + g
        return p - self.lr * (g + self.momentum * v), {"v": v}


class AdaGrad(Optimizer):
    """Adaptive per-coordinate steps: s += g^2; p -= lr * g / (sqrt(s) + eps)."""

    buffers = ("s",)

    def __init__(self, *, lr=0.01, eps=1e-10, weight_decay=0.0):
        super().__init__(lr=lr, weight_decay=weight_decay)
        self.eps = float(eps)

    def update(self, p, g, bufs, t):
        xp = get_array_module(p)
        s = bufs["s"] + g * g
        return p - self.lr * g / (xp.sqrt(s) + self.eps), {"s": s}


class RMSProp(Optimizer):
    """Leaky AdaGrad: s = alpha * s + (1 - alpha) * g^2; p -= lr * g / (sqrt(s) + eps)."""

    buffers = ("s",)

    def __init__(self, *, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0):
        super().__init__(lr=lr, weight_decay=weight_decay)
        self.alpha = float(alpha)
        self.eps = float(eps)

    def update(self, p, g, bufs, t):
        xp = get_array_module(p)
        s = self.alpha * bufs["s"] + (1 - self.alpha) * g * g
        return p - self.lr * g / (xp.sqrt(s) + self.eps), {"s": s}


class Adadelta(Optimizer):
    """Adadelta: s = rho*s + (1-rho)*g^2; d = sqrt(u + eps) / sqrt(s + eps) * g;
    u = rho*u + (1-rho)*d^2; p -= lr * d.
    """

    buffers = ("s", "u")

    def __init__(self, *, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
        super().__init__(lr=lr, weight_decay=weight_decay)
        self.rho = float(rho)
        self.eps = float(eps)

    def update(self, p, g, bufs, t):
        xp = get_array_module(p)
        s = self.rho * bufs["s"] + (1 - self.rho) * g * g
        d = xp.sqrt(bufs["u"] + self.eps) / xp.sqrt(s + self.eps) * g
        u = self.rho * bufs["u"] + (1 - self.rho) * d * d
        return p - self.lr * d, {"s": s, "u": u}


class Adam(Optimizer):
    """Adam with bias correction: m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
    p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps), t counting steps from 1.
    """

    buffers = ("m", "v")

    def __init__(self, *, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        super().__init__(lr=lr, weight_decay=weight_decay)
        self.beta1 = float(beta1)
        self.beta2 = float(beta2)
        self.eps = float(eps)

    def update(self, p, g, bufs, t):
        xp = get_array_module(p)
        m = self.beta1 * bufs["m"] + (1 - self.beta1) * g
        v = self.beta2 * bufs["v"] + (1 - self.beta2) * g * g
        m_hat = m / (1 - self.beta1 ** t)
        v_hat = v / (1 - self.beta2 ** t)
        return p - self.lr * m_hat / (xp.sqrt(v_hat) + self.eps), {"m": m, "v": v}
