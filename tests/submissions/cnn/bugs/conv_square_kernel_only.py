"""Conv2d assumes square kernels: it reads KH from W and uses it for both sides, so a (2, 3) kernel is cut to 2x2."""
# file: conv.py
# affects: cnn.conv.forward, cnn.conv.backward
# clause: conv-kernel-pair

_conv_forward = Conv2d.forward
_conv_backward = Conv2d.backward


def _forward(self, x, params, *, train=False, rng=None, state=None):
    kh = params["W"].shape[2]
    if params["W"].shape[3] == kh:
        return _conv_forward(self, x, params, train=train, rng=rng, state=state)
    square = dict(params, W=params["W"][:, :, :, :kh])
    y, cache = _conv_forward(self, x, square, train=train, rng=rng, state=state)
    return y, (cache, params["W"].shape)


def _backward(self, dy, cache):
    if isinstance(cache, tuple) and len(cache) == 2 and isinstance(cache[1], tuple):
        inner, shape = cache
        dx, grads = _conv_backward(self, dy, inner)
        full = np.zeros(shape, dtype=grads["W"].dtype)
        full[:, :, :, :shape[2]] = grads["W"]
        return dx, dict(grads, W=full)
    return _conv_backward(self, dy, cache)


Conv2d.forward = _forward
Conv2d.backward = _backward
