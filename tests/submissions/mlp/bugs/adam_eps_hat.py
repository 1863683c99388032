"""Adam in the paper's "efficient" form, lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t) and p -= lr_t * m / (sqrt(v) + eps): epsilon sits outside the bias correction, not where the contract (PyTorch) puts it."""
# file: optim.py
# affects: mlp.optim.adam, mlp.optim.adam.weight_decay, mlp.optim.race
# clause: eps-placement


def _step(self, params, grads, state):
    b1, b2 = self.beta1, self.beta2
    t = state["t"] + 1
    lr_t = self.lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    new_params, new_m, new_v = {}, {}, {}
    for k, p in params.items():
        g = self._grad(p, grads[k])
        new_m[k] = b1 * state["m"][k] + (1 - b1) * g
        new_v[k] = b2 * state["v"][k] + (1 - b2) * g * g
        new_params[k] = p - lr_t * new_m[k] / (np.sqrt(new_v[k]) + self.eps)
    return new_params, {"t": t, "m": new_m, "v": new_v}


Adam.step = _step
