"""BatchNorm1d.backward treats the batch mean and variance as constants at train time (dx = dy * gamma * inv_std)."""
# file: layers.py
# affects: mlp.batchnorm.backward
# clause: bn-backward-train

_bn_backward = BatchNorm1d.backward


def _backward(self, dy, cache):
    x_hat, inv_std, gamma, train = cache
    _, grads = _bn_backward(self, dy, cache)
    return dy * gamma * inv_std, grads


BatchNorm1d.backward = _backward
