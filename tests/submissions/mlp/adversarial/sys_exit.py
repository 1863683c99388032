"""SGD.step calls sys.exit(0) (SystemExit from inside a method)."""
# file: optim.py
# affects: mlp.optim.sgd, mlp.optim.sgd.weight_decay
# status: error
import sys as _sys


def _step(self, params, grads, state):
    _sys.exit(0)


SGD.step = _step
