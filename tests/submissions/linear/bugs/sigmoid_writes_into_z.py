"""sigmoid computes in place, writing exp(-z) into the caller's z (the values it returns are right)."""
# file: logistic.py
# affects: linear.logistic.sigmoid
# clause: pure


def sigmoid(z):
    out = z
    np.negative(out, out=out)
    np.exp(out, out=out)  # overflows to inf for z < -709: 1 / (1 + inf) is still the right 0
    out += 1
    return 1 / out
