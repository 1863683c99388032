"""BatchNorm2d copies BatchNorm1d's axis=0: it normalises with statistics over N alone, one mean and
variance per (channel, row, column); the running statistics average those over (H, W); backward
matches this forward."""
# file: conv.py
# affects: cnn.batchnorm2d.train, cnn.batchnorm2d.backward


def _forward(self, x, params, *, train=False, rng=None, state=None):
    C = x.shape[1]
    gamma = params["gamma"].reshape(1, C, 1, 1)
    if train:
        m = x.shape[0]
        mean, var = x.mean(axis=0), x.var(axis=0)          # (C, H, W)
        if state is not None:
            mo = self.momentum
            state["running_mean"] = (1 - mo) * state["running_mean"] + mo * mean.mean(axis=(1, 2))
            state["running_var"] = (1 - mo) * state["running_var"] + mo * var.mean(axis=(1, 2)) * m / max(m - 1, 1)
    else:
        m = None
        mean = state["running_mean"].astype(x.dtype).reshape(C, 1, 1)
        var = state["running_var"].astype(x.dtype).reshape(C, 1, 1)
    inv_std = (1.0 / np.sqrt(var + self.eps)).astype(x.dtype)
    x_hat = (x - mean) * inv_std
    y = x_hat * gamma.astype(x.dtype) + params["beta"].reshape(1, C, 1, 1).astype(x.dtype)
    return y, (x_hat, inv_std, gamma.astype(x.dtype), m)


def _backward(self, dy, cache):
    x_hat, inv_std, gamma, m = cache
    dbeta = dy.sum(axis=(0, 2, 3))
    dgamma = (dy * x_hat).sum(axis=(0, 2, 3))
    if m is None:
        return dy * gamma * inv_std, {"gamma": dgamma, "beta": dbeta}
    dxh = dy * gamma
    dx = inv_std * (dxh - dxh.mean(axis=0) - x_hat * (dxh * x_hat).mean(axis=0))
    return dx, {"gamma": dgamma, "beta": dbeta}


BatchNorm2d.forward = _forward
BatchNorm2d.backward = _backward
