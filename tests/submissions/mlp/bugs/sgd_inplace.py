"""SGD.step updates the parameters in place (p -= lr * g), mutating the caller's arrays."""
# file: optim.py
# affects: mlp.optim.sgd, mlp.optim.sgd.weight_decay


def _init_state(self, params):
    return {}


def _step(self, params, grads, state):
    for k, p in params.items():
        p -= self.lr * (grads[k] + self.weight_decay * p)
    return dict(params), {}


SGD.init_state = _init_state
SGD.step = _step
