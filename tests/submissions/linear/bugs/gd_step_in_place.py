"""gd_step updates w in place (w -= lr * dw) and returns it: the caller's weights change."""
# file: logistic.py
# affects: linear.logistic.gd_step
# clause: pure


def gd_step(w, b, dw, db, lr):
    w -= lr * dw
    return w, b - lr * db
