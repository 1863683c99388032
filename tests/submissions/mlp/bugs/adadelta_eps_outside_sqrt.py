"""Adadelta uses (sqrt(u) + eps) / (sqrt(s) + eps) instead of sqrt(u + eps) / sqrt(s + eps)."""
# file: optim.py
# affects: mlp.optim.adadelta, mlp.optim.race
# clause: eps-placement


def _step(self, params, grads, state):
    rho, eps = self.rho, self.eps
    new_params, new_s, new_u = {}, {}, {}
    for k, p in params.items():
        g = self._grad(p, grads[k])
        new_s[k] = rho * state["s"][k] + (1 - rho) * g * g
        d = (np.sqrt(state["u"][k]) + eps) / (np.sqrt(new_s[k]) + eps) * g
        new_u[k] = rho * state["u"][k] + (1 - rho) * d * d
        new_params[k] = p - self.lr * d
    return new_params, {"s": new_s, "u": new_u}


Adadelta.step = _step
