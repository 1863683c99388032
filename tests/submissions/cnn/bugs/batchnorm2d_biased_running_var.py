"""BatchNorm2d updates running_var with the biased batch variance (divided by N * H * W) instead of
the unbiased one."""
# file: conv.py
# affects: cnn.batchnorm2d.train


def _forward(self, x, params, *, train=False, rng=None, state=None):
    C = x.shape[1]
    if train:
        mean = x.mean(axis=(0, 2, 3))
        xc = x - mean.reshape(1, C, 1, 1)
        var = (xc * xc).mean(axis=(0, 2, 3))
        if state is not None:
            mo = self.momentum
            state["running_mean"] = (1 - mo) * state["running_mean"] + mo * mean
            state["running_var"] = (1 - mo) * state["running_var"] + mo * var
    else:
        mean = state["running_mean"].astype(x.dtype)
        var = state["running_var"].astype(x.dtype)
        xc = x - mean.reshape(1, C, 1, 1)
    inv_std = (1.0 / np.sqrt(var + self.eps)).astype(x.dtype)
    gamma = params["gamma"].astype(x.dtype, copy=False)
    x_hat = xc * inv_std.reshape(1, C, 1, 1)
    y = x_hat * gamma.reshape(1, C, 1, 1) + params["beta"].reshape(1, C, 1, 1)
    return y, (x_hat, inv_std, gamma, train)


BatchNorm2d.forward = _forward
