"""Dropout drops and rescales at evaluation time too (ignores train=False)."""
# file: layers.py
# affects: mlp.dropout.eval
# clause: dropout-eval

_dropout_forward = Dropout.forward


def _forward(self, x, params, *, train=False, rng=None, state=None):
    return _dropout_forward(self, x, params, train=True, rng=rng if rng is not None else np.random.default_rng(0))


Dropout.forward = _forward
