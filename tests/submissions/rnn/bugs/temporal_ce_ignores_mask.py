"""TemporalCrossEntropyLoss ignores the mask: target -1 indexes the last class and counts."""
# file: rnn.py
# affects: rnn.loss.temporal_cross_entropy


def _forward(self, scores, target):
    V = scores.shape[-1]
    s = scores.reshape(-1, V)
    y = target.reshape(-1)
    z = s - s.max(axis=1, keepdims=True)
    log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    loss = (-log_probs[np.arange(len(y)), y].sum(keepdims=True) / len(y)).reshape(())
    return loss, (log_probs, y, scores.shape)


def _backward(self, cache):
    log_probs, y, shape = cache
    d = np.exp(log_probs)
    d[np.arange(len(y)), y] -= 1
    return (d / len(y)).reshape(shape)


TemporalCrossEntropyLoss.forward = _forward
TemporalCrossEntropyLoss.backward = _backward
