"""Momentum.step uses the raw gradient and ignores weight_decay."""
# file: optim.py
# affects: mlp.optim.momentum
# clause: weight-decay


def _step(self, params, grads, state):
    new_params, new_v = {}, {}
    for k, p in params.items():
        new_v[k] = self.momentum * state["v"][k] + grads[k]
        new_params[k] = p - self.lr * new_v[k]
    return new_params, {"v": new_v}


Momentum.step = _step
