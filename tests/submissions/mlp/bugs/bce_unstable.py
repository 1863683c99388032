"""BCEWithLogitsLoss computes -t log(sigmoid(s)) - (1 - t) log(1 - sigmoid(s)): inf/nan for large logits."""
# file: losses.py
# affects: mlp.loss.bce_with_logits


def _forward(self, scores, target):
    n = scores.shape[0]
    p = 0.5 * (1.0 + np.tanh(0.5 * scores))
    with np.errstate(divide="ignore", invalid="ignore"):
        per_element = -target * np.log(p) - (1 - target) * np.log(1 - p)
    return (per_element.sum(keepdims=True) / n).reshape(()), (p, target, n)


def _backward(self, cache):
    p, target, n = cache
    return (p - target) / n


BCEWithLogitsLoss.forward = _forward
BCEWithLogitsLoss.backward = _backward
