"""Sequential.forward does not pass rng on to its layers (so Dropout inside a model cannot work)."""
# file: layers.py
# affects: mlp.sequential


def _forward(self, x, params, *, train=False, rng=None, state=None):
    state = [None] * len(self.layers) if state is None else state
    caches = []
    for layer, p, s in zip(self.layers, params, state):
        x, cache = layer.forward(x, p, train=train, rng=None, state=s)
        caches.append(cache)
    return x, caches


Sequential.forward = _forward
