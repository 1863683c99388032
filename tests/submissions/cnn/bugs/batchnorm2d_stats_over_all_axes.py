"""BatchNorm2d takes one mean and one variance over the whole batch (every axis, channels mixed)
instead of one per channel over (N, H, W); backward matches this forward."""
# file: conv.py
# affects: cnn.batchnorm2d.train, cnn.batchnorm2d.backward


def _forward(self, x, params, *, train=False, rng=None, state=None):
    C = x.shape[1]
    gamma = params["gamma"].reshape(1, C, 1, 1).astype(x.dtype)
    if train:
        m = x.size
        mean, var = x.mean(), x.var()
        if state is not None:
            mo = self.momentum
            state["running_mean"] = (1 - mo) * state["running_mean"] + mo * mean
            state["running_var"] = (1 - mo) * state["running_var"] + mo * var * m / max(m - 1, 1)
    else:
        m = None
        mean = state["running_mean"].astype(x.dtype).reshape(1, C, 1, 1)
        var = state["running_var"].astype(x.dtype).reshape(1, C, 1, 1)
    inv_std = (1.0 / np.sqrt(var + self.eps)).astype(x.dtype)
    x_hat = ((x - mean) * inv_std).astype(x.dtype)
    y = x_hat * gamma + params["beta"].reshape(1, C, 1, 1).astype(x.dtype)
    return y, (x_hat, inv_std, gamma, m)


def _backward(self, dy, cache):
    x_hat, inv_std, gamma, m = cache
    dbeta = dy.sum(axis=(0, 2, 3))
    dgamma = (dy * x_hat).sum(axis=(0, 2, 3))
    if m is None:
        return dy * gamma * inv_std, {"gamma": dgamma, "beta": dbeta}
    dxh = dy * gamma
    dx = inv_std * (dxh - dxh.mean() - x_hat * (dxh * x_hat).mean())
    return dx.astype(dy.dtype), {"gamma": dgamma, "beta": dbeta}


BatchNorm2d.forward = _forward
BatchNorm2d.backward = _backward
