"""BatchNorm1d updates running_var with the biased batch variance (no N/(N-1) correction)."""
# file: layers.py
# affects: mlp.batchnorm.train

_bn_forward = BatchNorm1d.forward


def _forward(self, x, params, *, train=False, rng=None, state=None):
    if train and state is not None:
        m = self.momentum
        state["running_mean"] = (1 - m) * state["running_mean"] + m * x.mean(axis=0)
        state["running_var"] = (1 - m) * state["running_var"] + m * x.var(axis=0)
        return _bn_forward(self, x, params, train=True, rng=rng, state=None)
    return _bn_forward(self, x, params, train=train, rng=rng, state=state)


BatchNorm1d.forward = _forward
