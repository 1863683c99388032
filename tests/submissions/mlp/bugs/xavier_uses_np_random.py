"""xavier_uniform draws from the global np.random instead of the rng it is given."""
# file: init.py
# affects: mlp.init.xavier_uniform


def xavier_uniform(fan_in, fan_out, *, rng, dtype=np.float64):
    a = np.sqrt(6.0 / (fan_in + fan_out))
    return np.random.uniform(-a, a, size=(fan_in, fan_out)).astype(dtype)
