"""BatchNorm1d updates running_mean in place (state["running_mean"] *= 1 - m; += m * mean): the values are right but the caller's array is overwritten instead of replaced."""
# file: layers.py
# affects: mlp.batchnorm.train, mlp.batchnorm.backward
# clause: state-replaced

_bn_forward = BatchNorm1d.forward


def _forward(self, x, params, *, train=False, rng=None, state=None):
    old = state["running_mean"] if train and state is not None else None
    y, cache = _bn_forward(self, x, params, train=train, rng=rng, state=state)
    if old is not None:
        new = state["running_mean"]
        old *= 0.0
        old += new
        state["running_mean"] = old
    return y, cache


BatchNorm1d.forward = _forward
