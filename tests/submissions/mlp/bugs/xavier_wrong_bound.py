"""xavier_uniform uses the bound sqrt(1 / (fan_in + fan_out)) instead of sqrt(6 / (fan_in + fan_out)): its draws are too small, and so are the initialisation study's activations, which shrink layer by layer."""
# file: init.py
# affects: mlp.init.xavier_uniform, mlp.init.study


def xavier_uniform(fan_in, fan_out, *, rng, dtype=np.float64):
    a = np.sqrt(1.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, size=(fan_in, fan_out)).astype(dtype)
