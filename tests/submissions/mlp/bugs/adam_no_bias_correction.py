"""Adam.step without bias correction: uses m and v instead of m / (1 - b1^t) and v / (1 - b2^t)."""
# file: optim.py
# affects: mlp.optim.adam, mlp.optim.adam.weight_decay, mlp.optim.race


def _init_state(self, params):
    return {"m": {k: np.zeros_like(p) for k, p in params.items()},
            "v": {k: np.zeros_like(p) for k, p in params.items()}}


def _step(self, params, grads, state):
    b1, b2 = self.beta1, self.beta2
    new_params, new_m, new_v = {}, {}, {}
    for k, p in params.items():
        g = grads[k] + self.weight_decay * p
        new_m[k] = b1 * state["m"][k] + (1 - b1) * g
        new_v[k] = b2 * state["v"][k] + (1 - b2) * g * g
        new_params[k] = p - self.lr * new_m[k] / (np.sqrt(new_v[k]) + self.eps)
    return new_params, {"m": new_m, "v": new_v}


Adam.init_state = _init_state
Adam.step = _step
