"""svm_loss's gradient forgets to divide the data term by N (the regularisation term 2 reg W is right): no pure constant factor, so the feedback must name the data term's factor."""
# file: linear.py
# affects: linear.svm.vectorized, linear.svm.ties, linear.train_sgd

_svm_loss_missing_n = svm_loss


def svm_loss(W, X, y, reg):
    loss, dW = _svm_loss_missing_n(W, X, y, reg)
    n = X.shape[0]
    return loss, (dW - 2 * reg * W) * n + 2 * reg * W
