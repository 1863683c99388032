"""softmax_loss returns its loss as a Python float: a float32 batch's loss comes back float64."""
# file: linear.py
# affects: linear.softmax.vectorized
# clause: dtype-rule

_softmax = softmax_loss


def softmax_loss(W, X, y, reg):
    loss, dW = _softmax(W, X, y, reg)
    return float(loss), dW
