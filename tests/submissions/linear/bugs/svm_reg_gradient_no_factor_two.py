"""svm_loss's regularisation gradient is reg * W, not 2 * reg * W."""
# file: linear.py
# affects: linear.svm.vectorized, linear.train_sgd
# clause: l2-reg

_svm = svm_loss


def svm_loss(W, X, y, reg):
    loss, dW = _svm(W, X, y, reg)
    return loss, dW - reg * W
