"""AdaGrad.step accumulates into the state it was given (state["s"][k] += g * g) instead of new arrays."""
# file: optim.py
# affects: mlp.optim.adagrad


def _step(self, params, grads, state):
    new_params = {}
    for k, p in params.items():
        g = self._grad(p, grads[k])
        state["s"][k] += g * g
        new_params[k] = p - self.lr * g / (np.sqrt(state["s"][k]) + self.eps)
    return new_params, state


AdaGrad.step = _step
