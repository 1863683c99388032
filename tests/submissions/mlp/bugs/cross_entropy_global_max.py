"""CrossEntropyLoss shifts the scores by the batch's largest score, not each row's: rows far below it
give log(0)."""
# file: losses.py
# affects: mlp.loss.cross_entropy
# clause: stable


def _forward(self, scores, target):
    n = scores.shape[0]
    z = scores - scores.max()
    log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return batch_mean(-log_probs[np.arange(n), target], n), (log_probs, target)


CrossEntropyLoss.forward = _forward
