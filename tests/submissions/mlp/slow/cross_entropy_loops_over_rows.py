"""CrossEntropyLoss with a Python loop over the rows (each row shifted by its own max): correct and slower than the vectorised form; no item of the contract asks for speed here."""
# file: losses.py
# affects:


def _ce_forward_loops(self, scores, target):
    n = scores.shape[0]
    log_probs = np.empty_like(scores)
    losses = np.empty(n, dtype=scores.dtype)
    for i in range(n):
        z = scores[i] - scores[i].max()
        log_probs[i] = z - np.log(np.exp(z).sum())
        losses[i] = -log_probs[i, target[i]]
    return batch_mean(losses, n), (log_probs, target)


CrossEntropyLoss.forward = _ce_forward_loops
