"""MaskedMeanPool converts the mask in the state it is given to floats (writes into its state)."""
# file: pooling.py
# affects: sentiment.pool.forward
# clause: sentiment-pool-state

_forward0 = MaskedMeanPool.forward


def _forward(self, x, params, *, train=False, rng=None, state=None):
    state["mask"] = state["mask"].astype(x.dtype)
    return _forward0(self, x, params, train=train, rng=rng, state=state)


MaskedMeanPool.forward = _forward
