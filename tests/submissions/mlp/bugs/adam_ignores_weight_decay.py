"""Adam.step uses the raw gradient and ignores weight_decay."""
# file: optim.py
# affects: mlp.optim.adam.weight_decay


def _init_state(self, params):
    return {"t": 0,
            "m": {k: np.zeros_like(p) for k, p in params.items()},
            "v": {k: np.zeros_like(p) for k, p in params.items()}}


def _step(self, params, grads, state):
    b1, b2 = self.beta1, self.beta2
    t = state["t"] + 1
    new_params, new_m, new_v = {}, {}, {}
    for k, p in params.items():
        g = grads[k]
        new_m[k] = b1 * state["m"][k] + (1 - b1) * g
        new_v[k] = b2 * state["v"][k] + (1 - b2) * g * g
        m_hat = new_m[k] / (1 - b1 ** t)
        v_hat = new_v[k] / (1 - b2 ** t)
        new_params[k] = p - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
    return new_params, {"t": t, "m": new_m, "v": new_v}


Adam.init_state = _init_state
Adam.step = _step
