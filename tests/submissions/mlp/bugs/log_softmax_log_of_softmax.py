"""LogSoftmax.forward takes the log of a (stable) softmax: -inf where a probability underflows to 0."""
# file: layers.py
# affects: mlp.log_softmax.forward
# clause: stable


def _forward(self, x, params, *, train=False, rng=None, state=None):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    y = np.log(e / e.sum(axis=-1, keepdims=True))
    return y, y


LogSoftmax.forward = _forward
