"""MaskedMeanPool sums the real steps but divides by T: padded steps count in the mean."""
# file: pooling.py
# affects: sentiment.pool.forward, sentiment.pool.backward, sentiment.model.loss
# clause: sentiment-pool-mean


def _forward(self, x, params, *, train=False, rng=None, state=None):
    mask = state["mask"].astype(x.dtype)
    count = np.full((x.shape[0], 1), x.shape[1], dtype=x.dtype)
    return (x * mask[:, :, None]).sum(axis=1) / count, (mask, count)


MaskedMeanPool.forward = _forward
