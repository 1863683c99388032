"""TemporalCrossEntropyLoss shifts the scores by the largest score of the whole batch, not each
position's: positions far below it give log(0)."""
# file: rnn.py
# affects: rnn.loss.temporal_cross_entropy
# clause: stable


def _forward(self, scores, target):
    V = scores.shape[-1]
    s = scores.reshape(-1, V)
    y = target.reshape(-1)
    valid = y != self.ignore_index
    count = max(int(valid.sum()), 1)
    z = s - s.max()
    log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    picked = log_probs[np.arange(len(y)), np.where(valid, y, 0)]
    loss = ((-picked[valid]).sum(keepdims=True) / count).reshape(())
    return loss, (log_probs, y, valid, count, scores.shape)


TemporalCrossEntropyLoss.forward = _forward
