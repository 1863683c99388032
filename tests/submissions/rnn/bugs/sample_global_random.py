"""sample_next draws from the global np.random instead of the rng it is given: the same seed gives other draws."""
# file: text.py
# affects: rnn.sample_next
# clause: rng-only


def sample_next(logits, *, rng, temperature=1.0, top_k=None):
    z = logits.astype(np.float64) / temperature
    if top_k is not None and top_k < z.shape[1]:
        kth = np.sort(z, axis=1)[:, -top_k][:, None]
        z = np.where(z >= kth, z, -np.inf)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    cdf = np.cumsum(p, axis=1)
    u = np.random.random((z.shape[0], 1)) * cdf[:, -1:]
    return (cdf <= u).sum(axis=1).astype(np.int64)
