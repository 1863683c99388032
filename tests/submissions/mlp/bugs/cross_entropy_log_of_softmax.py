"""CrossEntropyLoss takes -log of a (stable) softmax: inf where the label's probability underflows to 0."""
# file: losses.py
# affects: mlp.loss.cross_entropy
# clause: stable


def _forward(self, scores, target):
    n = scores.shape[0]
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    probs = e / e.sum(axis=1, keepdims=True)
    log_probs = np.log(probs)
    return batch_mean(-log_probs[np.arange(n), target], n), (log_probs, target)


CrossEntropyLoss.forward = _forward
