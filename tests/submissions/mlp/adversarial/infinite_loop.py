"""ReLU.forward never returns (an infinite loop)."""
# file: layers.py
# affects: mlp.relu.forward, mlp.relu.backward
# status: timeout


def _forward(self, x, params, *, train=False, rng=None, state=None):
    n = 0
    while True:
        n += 1


ReLU.forward = _forward
