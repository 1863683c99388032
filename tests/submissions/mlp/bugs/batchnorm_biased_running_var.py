"""BatchNorm1d updates running_var with the biased batch variance (no N/(N-1)) (the eval item starts from given running statistics, so only train loses)."""
# file: layers.py
# affects: mlp.batchnorm.train

_bn_forward = BatchNorm1d.forward


def _forward(self, x, params, *, train=False, rng=None, state=None):
    old = state["running_var"] if train and state is not None else None
    y, cache = _bn_forward(self, x, params, train=train, rng=rng, state=state)
    if old is not None:
        state["running_var"] = (1 - self.momentum) * old + self.momentum * x.var(axis=0)
    return y, cache


BatchNorm1d.forward = _forward
