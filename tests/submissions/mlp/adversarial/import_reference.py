"""Softmax.forward imports the instructor's reference.layers and calls it (must be blocked)."""
# file: layers.py
# affects: mlp.softmax.forward, mlp.softmax.backward
# status: error


def _forward(self, x, params, *, train=False, rng=None, state=None):
    import reference.layers
    return reference.layers.Softmax().forward(x, params, train=train, rng=rng, state=state)


def _backward(self, dy, cache):
    import reference.layers
    return reference.layers.Softmax().backward(dy, cache)


Softmax.forward = _forward
Softmax.backward = _backward
