"""gd_step climbs the gradient: w + lr * dw."""
# file: logistic.py
# affects: linear.logistic.gd_step
# clause: gd-update


def gd_step(w, b, dw, db, lr):
    return w + lr * dw, b + lr * db
