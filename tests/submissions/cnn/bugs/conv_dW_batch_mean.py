"""Conv2d backward averages dW over the batch (divides the batch sum by N) instead of summing it."""
# file: conv.py
# affects: cnn.conv.backward, cnn.conv.speed.backward

_backward_sum = Conv2d.backward


def _backward(self, dy, cache):
    dx, grads = _backward_sum(self, dy, cache)
    return dx, {**grads, "W": grads["W"] / dy.shape[0]}


Conv2d.backward = _backward
