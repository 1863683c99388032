"""xavier_uniform ignores its dtype argument and always returns float64."""
# file: init.py
# affects: mlp.init.xavier_uniform
# clause: dtype-rule

_xavier = xavier_uniform


def xavier_uniform(fan_in, fan_out, *, rng, dtype=np.float64):
    return _xavier(fan_in, fan_out, rng=rng, dtype=np.float64)
