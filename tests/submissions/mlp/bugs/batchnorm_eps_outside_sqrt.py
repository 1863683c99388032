"""BatchNorm1d divides by sqrt(var) + eps instead of sqrt(var + eps): with eps = 1e-5 the outputs are off by about 5e-6 relatively, an error that reads like rounding unless the feedback names the pattern."""
# file: layers.py
# affects: mlp.batchnorm.train, mlp.batchnorm.backward, mlp.batchnorm.eval


def _bn_forward_eps_outside(self, x, params, *, train=False, rng=None, state=None):
    if train:
        n = x.shape[0]
        mean, var = x.mean(axis=0), x.var(axis=0)
        if state is not None:
            m = self.momentum
            state["running_mean"] = (1 - m) * state["running_mean"] + m * mean
            state["running_var"] = (1 - m) * state["running_var"] + m * var * (n / max(n - 1, 1))
    else:
        mean = state["running_mean"].astype(x.dtype)
        var = state["running_var"].astype(x.dtype)
    inv_std = 1.0 / (np.sqrt(var) + self.eps)
    x_hat = (x - mean) * inv_std
    return params["gamma"] * x_hat + params["beta"], (x_hat, inv_std, params["gamma"], train)


BatchNorm1d.forward = _bn_forward_eps_outside
