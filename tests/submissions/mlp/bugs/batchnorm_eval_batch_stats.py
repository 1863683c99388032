"""BatchNorm1d normalises with the batch's statistics at evaluation time too (ignores running stats)."""
# file: layers.py
# affects: mlp.batchnorm.eval

_bn_forward = BatchNorm1d.forward


def _forward(self, x, params, *, train=False, rng=None, state=None):
    if train:
        return _bn_forward(self, x, params, train=True, rng=rng, state=state)
    scratch = dict(state) if state is not None else self.init_state()  # eval must not update state
    return _bn_forward(self, x, params, train=True, rng=rng, state=scratch)


BatchNorm1d.forward = _forward
