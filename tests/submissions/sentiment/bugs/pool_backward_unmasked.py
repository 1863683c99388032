"""MaskedMeanPool's backward spreads the gradient over every step, padded ones included."""
# file: pooling.py
# affects: sentiment.pool.backward, sentiment.model.loss
# clause: sentiment-pool-backward


def _backward(self, dy, cache):
    mask, count = cache
    return np.repeat((dy / count)[:, None, :], mask.shape[1], axis=1), {}


MaskedMeanPool.backward = _backward
