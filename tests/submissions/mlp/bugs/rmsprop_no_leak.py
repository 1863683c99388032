"""RMSProp adds the new squared gradient at full weight, s = alpha * s + g^2, instead of weighing it by (1 - alpha): one wrong constant, and its path in the optimizer race leaves the reference's."""
# file: optim.py
# affects: mlp.optim.rmsprop, mlp.optim.race
# clause: optimizer-formulas


def _step(self, params, grads, state):
    new_params, new_s = {}, {}
    for k, p in params.items():
        g = self._grad(p, grads[k])
        new_s[k] = self.alpha * state["s"][k] + g * g
        new_params[k] = p - self.lr * g / (np.sqrt(new_s[k]) + self.eps)
    return new_params, {"s": new_s}


RMSProp.step = _step
