"""Conv2d backward takes db as the mean of dy over (N, H', W') instead of its sum."""
# file: conv.py
# affects: cnn.conv.backward, cnn.conv.speed.backward

_backward_sum = Conv2d.backward


def _backward(self, dy, cache):
    dx, grads = _backward_sum(self, dy, cache)
    return dx, {**grads, "b": dy.mean(axis=(0, 2, 3))}


Conv2d.backward = _backward
