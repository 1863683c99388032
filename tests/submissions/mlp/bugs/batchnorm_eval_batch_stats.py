"""BatchNorm1d normalises with the batch's statistics at evaluation time too (ignores running stats)."""
# file: layers.py
# affects: mlp.batchnorm.eval

_bn_forward = BatchNorm1d.forward


def _forward(self, x, params, *, train=False, rng=None, state=None):
    if train:
        return _bn_forward(self, x, params, train=True, rng=rng, state=state)
    return _bn_forward(self, x, params, train=True, rng=rng, state=None)


BatchNorm1d.forward = _forward
