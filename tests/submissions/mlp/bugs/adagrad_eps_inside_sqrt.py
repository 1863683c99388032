"""AdaGrad divides by sqrt(s + eps) instead of sqrt(s) + eps."""
# file: optim.py
# affects: mlp.optim.adagrad, mlp.optim.race
# clause: eps-placement


def _step(self, params, grads, state):
    new_params, new_s = {}, {}
    for k, p in params.items():
        g = self._grad(p, grads[k])
        new_s[k] = state["s"][k] + g * g
        new_params[k] = p - self.lr * g / np.sqrt(new_s[k] + self.eps)
    return new_params, {"s": new_s}


AdaGrad.step = _step
