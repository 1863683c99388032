"""svm_loss_loops also sums the correct class's margin (always 1): the loss is 1 too large."""
# file: linear.py
# affects: linear.svm.loops
# clause: svm-formula

_svm_loops = svm_loss_loops


def svm_loss_loops(W, X, y, reg):
    loss, dW = _svm_loops(W, X, y, reg)
    return loss + 1, dW
