"""Tanh.forward kills its own process with os._exit(0) (no result, exit code 0)."""
# file: layers.py
# affects: mlp.tanh.forward, mlp.tanh.backward
# status: error
import os as _os


def _forward(self, x, params, *, train=False, rng=None, state=None):
    _os._exit(0)


Tanh.forward = _forward
