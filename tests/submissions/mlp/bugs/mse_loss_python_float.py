"""MSELoss.forward returns a Python float: the loss of a float32 batch comes back float64."""
# file: losses.py
# affects: mlp.loss.mse
# clause: dtype-rule

_mse_forward = MSELoss.forward


def _forward(self, scores, target):
    loss, cache = _mse_forward(self, scores, target)
    return float(loss), cache


MSELoss.forward = _forward
