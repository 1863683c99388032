"""sigmoid as exp(z) / (1 + exp(z)): inf / inf = nan for z > 709 (also in the log loss's gradient)."""
# file: logistic.py
# affects: linear.logistic.sigmoid, linear.logistic.log_loss.stable
# clause: linear-stable


def sigmoid(z):
    e = np.exp(z)
    return e / (1 + e)
