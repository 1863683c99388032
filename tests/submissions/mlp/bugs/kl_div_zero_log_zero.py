"""KLDivLoss computes p * (log p - log q) directly: 0 * log 0 gives nan instead of 0."""
# file: losses.py
# affects: mlp.loss.kl_div


def _forward(self, scores, target):
    n = scores.shape[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        per_element = target * (np.log(target) - scores)
    return (per_element.sum(keepdims=True) / n).reshape(()), (target, n)


def _backward(self, cache):
    target, n = cache
    return -target / n


KLDivLoss.forward = _forward
KLDivLoss.backward = _backward
