"""xavier_uniform returns its draw sorted along each row (np.sort): every entry still has the right distribution and the same seed gives the same draw, so mlp.init.xavier_uniform passes, but unit j's incoming weights all sit near the j-th quantile, every unit computes about a multiple of the same feature (the sum of its inputs), and a deep tanh network's activations collapse: only the initialisation study sees it."""
# file: init.py
# affects: mlp.init.study
# clause: init-study

_xavier_uniform = xavier_uniform


def xavier_uniform(fan_in, fan_out, *, rng, dtype=np.float64):
    return np.sort(_xavier_uniform(fan_in, fan_out, rng=rng, dtype=dtype))
