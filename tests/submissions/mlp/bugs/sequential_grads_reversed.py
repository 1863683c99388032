"""Sequential.backward returns the grads list in backward (reversed) order instead of layer order."""
# file: layers.py
# affects: mlp.sequential


def _backward(self, dy, cache):
    grads = []
    for i in reversed(range(len(self.layers))):
        dy, g = self.layers[i].backward(dy, cache[i])
        grads.append(g)
    return dy, grads


Sequential.backward = _backward
