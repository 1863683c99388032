"""BatchNorm1d updates its running statistics at evaluation time too (with the evaluation batch's statistics)."""
# file: layers.py
# affects: mlp.batchnorm.eval
# clause: bn-eval-running

_bn_forward = BatchNorm1d.forward


def _forward(self, x, params, *, train=False, rng=None, state=None):
    y, cache = _bn_forward(self, x, params, train=train, rng=rng, state=state)
    if not train and state is not None and len(x) > 1:
        state["running_mean"] = 0.9 * state["running_mean"] + 0.1 * x.mean(axis=0)
    return y, cache


BatchNorm1d.forward = _forward
