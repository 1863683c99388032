# From the `rnn` assignment: this is the stub of its text.py. Copy your own
# rnn/text.py over this file (`dlgrade check` names it while it is still the stub).
"""Text utilities for the `rnn` assignment: gradient clipping and sampling the next token.

Both work on NumPy or CuPy arrays (NumPy calls that CuPy also offers; draws from the host
`rng` moved with `array_module(...).asarray`).
"""
import numpy as np

try:  # imported as part of a package
    from .backend import array_module
except ImportError:  # imported as a top-level module, with this folder on sys.path
    from backend import array_module


def clip_grad_norm(grads, max_norm):
    """Rescale all gradients together so that their global L2 norm is at most `max_norm`.

    Shapes: grads {name: array} -> (clipped {name: array of the same shape and dtype},
    total_norm ()). total_norm is the L2 norm of all entries of all gradients together, as a
    0-d array; when it exceeds max_norm every gradient is multiplied by max_norm / total_norm
    (one common factor, so the direction of the update is kept). Pure: the input arrays are not
    modified and the returned ones are new.
    """
    # YOUR CODE HERE
    raise NotImplementedError


def sample_next(logits, *, rng, temperature=1.0, top_k=None):
    """Draw one index per row from softmax(logits / temperature).

    Shapes: logits (N, V) -> (N,) int64. `rng` is a `numpy.random.Generator` (on the GPU too).
    With `top_k`, only the top_k largest logits of each row can be drawn; values tied with the
    k-th largest are all kept.
    Hint: one uniform draw u per row and the cumulative probabilities: the sample is the first
    index whose cumulative probability exceeds u.
    """
    # YOUR CODE HERE
    raise NotImplementedError
