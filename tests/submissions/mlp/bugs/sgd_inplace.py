"""SGD.step updates the parameters in place (p -= lr * g), mutating the caller's arrays."""
# file: optim.py
# affects: mlp.optim.sgd, mlp.optim.sgd.weight_decay


def _step(self, params, grads, state):
    for k, p in params.items():
        p -= self.lr * self._grad(p, grads[k])
    return dict(params), {}


SGD.step = _step
