"""BatchNorm2d normalises with the batch's own statistics at evaluation time too (the running
statistics are kept but never used)."""
# file: conv.py
# affects: cnn.batchnorm2d.eval

_forward_answer = BatchNorm2d.forward


def _forward(self, x, params, *, train=False, rng=None, state=None):
    if train:
        return _forward_answer(self, x, params, train=True, rng=rng, state=state)
    y, (x_hat, inv_std, gamma, _) = _forward_answer(self, x, params, train=True, rng=rng, state=None)
    return y, (x_hat, inv_std, gamma, False)


BatchNorm2d.forward = _forward
