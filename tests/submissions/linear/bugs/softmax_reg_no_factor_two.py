"""softmax_loss's regularisation gradient is reg * W: wrong in softmax_loss and in train_sgd, which calls it."""
# file: linear.py
# affects: linear.softmax.vectorized, linear.train_sgd
# clause: l2-reg

_softmax = softmax_loss


def softmax_loss(W, X, y, reg):
    loss, dW = _softmax(W, X, y, reg)
    return loss, dW - reg * W
