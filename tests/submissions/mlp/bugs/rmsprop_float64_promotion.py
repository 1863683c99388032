"""RMSProp keeps its running average in float64 (np.zeros(p.shape)): float32 params come back float64."""
# file: optim.py
# affects: mlp.optim.rmsprop


def _init_state(self, params):
    return {k: np.zeros(p.shape) for k, p in params.items()}


def _step(self, params, grads, state):
    new_params, new_s = {}, {}
    for k, p in params.items():
        g = grads[k] + self.weight_decay * p
        new_s[k] = self.alpha * state[k] + (1 - self.alpha) * g * g
        new_params[k] = p - self.lr * g / (np.sqrt(new_s[k]) + self.eps)
    return new_params, new_s


RMSProp.init_state = _init_state
RMSProp.step = _step
