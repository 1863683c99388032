"""RMSProp.step keeps its running average in float64 (np.zeros(p.shape)): float32 params come back float64."""
# file: optim.py
# affects: mlp.optim.rmsprop


def _init_state(self, params):
    return {"s": {k: np.zeros(p.shape) for k, p in params.items()}}


RMSProp.init_state = _init_state
