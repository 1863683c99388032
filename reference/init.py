"""Weight initialisers. The array module follows `rng` (a NumPy or CuPy Generator)."""
import math

import numpy as np


def xavier_uniform(fan_in, fan_out, *, rng, dtype=np.float64):
    """Glorot/Xavier uniform weights: U(-a, a) with a = sqrt(6 / (fan_in + fan_out)).

    Shapes: -> W (fan_in, fan_out). dtype: `dtype`.
    """
    a = math.sqrt(6.0 / (fan_in + fan_out))
    return ((2.0 * rng.random((fan_in, fan_out)) - 1.0) * a).astype(dtype, copy=False)


def he_normal(fan_in, fan_out, *, rng, dtype=np.float64):
    """He/Kaiming normal weights for ReLU networks: N(0, 2 / fan_in).

    Shapes: -> W (fan_in, fan_out). dtype: `dtype`.
    """
    std = math.sqrt(2.0 / fan_in)
    return (rng.standard_normal((fan_in, fan_out)) * std).astype(dtype, copy=False)
