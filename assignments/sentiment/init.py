# From the `mlp` assignment: this is the stub of its init.py. Copy your own
# mlp/init.py over this file (`dlgrade check` names it while it is still the stub).
"""Weight initialisers for the `mlp` assignment.

Both return a `(fan_in, fan_out)` array, the shape of `Linear`'s `W`, drawn from the
`numpy.random.Generator` `rng` and cast to `dtype`.
"""
import numpy as np


def xavier_uniform(fan_in, fan_out, *, rng, dtype=np.float64):
    """Glorot/Xavier uniform weights: U(-a, a) with a = sqrt(6 / (fan_in + fan_out)).

    Shapes: returns W (fan_in, fan_out) of `dtype`.

    Notes: keeps the variance of activations and of gradients roughly equal across layers with
    symmetric activations such as tanh (Glorot and Bengio, 2010).
    """
    # YOUR CODE HERE
    raise NotImplementedError


def he_normal(fan_in, fan_out, *, rng, dtype=np.float64):
    """He/Kaiming normal weights: N(0, 2 / fan_in) (variance 2 / fan_in, not the std).

    Shapes: returns W (fan_in, fan_out) of `dtype`.

    Notes: ReLU zeroes half its inputs on average, so the factor 2 keeps the variance of the
    activations constant through ReLU layers (He et al., 2015).
    """
    # YOUR CODE HERE
    raise NotImplementedError
