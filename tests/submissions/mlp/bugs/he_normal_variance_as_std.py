"""he_normal uses 2 / fan_in as the standard deviation instead of the variance."""
# file: init.py
# affects: mlp.init.he_normal


def he_normal(fan_in, fan_out, *, rng, dtype=np.float64):
    return ((2.0 / fan_in) * rng.standard_normal((fan_in, fan_out))).astype(dtype)
