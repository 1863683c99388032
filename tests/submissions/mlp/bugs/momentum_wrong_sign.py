"""Momentum.step moves uphill: p = p + lr * v."""
# file: optim.py
# affects: mlp.optim.momentum, mlp.optim.race


def _init_state(self, params):
    return {k: np.zeros_like(p) for k, p in params.items()}


def _step(self, params, grads, state):
    new_params, new_v = {}, {}
    for k, p in params.items():
        new_v[k] = self.momentum * state[k] + grads[k] + self.weight_decay * p
        new_params[k] = p + self.lr * new_v[k]
    return new_params, new_v


Momentum.init_state = _init_state
Momentum.step = _step
