"""train_sgd's keyword arguments default to other values than the contract's (lr=1e-2, 50 steps)."""
# file: linear.py
# affects: linear.train_sgd
# clause: sgd-defaults

_train_sgd = train_sgd


def train_sgd(W, X, y, *, loss="softmax", reg=0.0, lr=1e-2, batch_size=200, steps=50, rng):
    return _train_sgd(W, X, y, loss=loss, reg=reg, lr=lr, batch_size=batch_size, steps=steps, rng=rng)
