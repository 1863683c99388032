"""sample_next keeps exactly top_k indices (argsort) and drops a token tied with the k-th largest logit."""
# file: text.py
# affects: rnn.sample_next
# clause: top-k-ties


def sample_next(logits, *, rng, temperature=1.0, top_k=None):
    z = logits.astype(np.float64) / temperature
    if top_k is not None and top_k < z.shape[1]:
        keep = np.argsort(-z, axis=1, kind="stable")[:, :top_k]
        masked = np.full_like(z, -np.inf)
        np.put_along_axis(masked, keep, np.take_along_axis(z, keep, axis=1), axis=1)
        z = masked
    p = np.exp(z - z.max(axis=1, keepdims=True))
    cdf = np.cumsum(p, axis=1)
    u = rng.random((z.shape[0], 1)) * cdf[:, -1:]
    return (cdf <= u).sum(axis=1).astype(np.int64)
