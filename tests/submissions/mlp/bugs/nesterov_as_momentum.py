"""Nesterov.step is plain momentum: p = p - lr * v instead of p - lr * (g + momentum * v)."""
# file: optim.py
# affects: mlp.optim.nesterov


def _step(self, params, grads, state):
    new_params, new_v = {}, {}
    for k, p in params.items():
        new_v[k] = self.momentum * state["v"][k] + self._grad(p, grads[k])
        new_params[k] = p - self.lr * new_v[k]
    return new_params, {"v": new_v}


Nesterov.step = _step
