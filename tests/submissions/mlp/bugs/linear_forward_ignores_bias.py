"""Linear.forward forgets the bias (y = x @ W); backward is the correct one, so its gradient check says the forward does not depend on b."""
# file: layers.py
# affects: mlp.linear.forward, mlp.linear.backward, mlp.xor
# clause: layer-formulas

_linear_forward = Linear.forward


def _forward(self, x, params, *, train=False, rng=None, state=None):
    y, cache = _linear_forward(self, x, params, train=train, rng=rng, state=state)
    return y - params["b"], cache


Linear.forward = _forward
