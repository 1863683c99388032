"""Sequential.backward returns the grads list in backward (reversed) order instead of layer order."""
# file: layers.py
# affects: mlp.sequential


def _forward(self, x, params, *, train=False, rng=None, state=None):
    state = [None] * len(self.layers) if state is None else state
    caches = []
    for layer, p, s in zip(self.layers, params, state):
        x, cache = layer.forward(x, p, train=train, rng=rng, state=s)
        caches.append(cache)
    return x, caches


def _backward(self, dy, cache):
    grads = []
    for i in reversed(range(len(self.layers))):
        dy, g = self.layers[i].backward(dy, cache[i])
        grads.append(g)
    return dy, grads


Sequential.forward = _forward
Sequential.backward = _backward
