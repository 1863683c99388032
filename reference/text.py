"""Reference text utilities for the `rnn` curriculum: gradient clipping and sampling.

NumPy/CuPy agnostic; inputs are never modified.
"""
from .backend import get_array_module


def clip_grad_norm(grads, max_norm):
    """Scale all gradients by one common factor so that their global L2 norm is at most max_norm.

    Shapes: grads a dict name -> array (any shapes) -> (clipped, same keys and shapes;
    total_norm ()). dtype: each gradient keeps its own; total_norm that of the gradients.
    Notes: total_norm = sqrt(sum of every squared entry of every gradient), measured before
    clipping; when it exceeds max_norm every gradient is multiplied by max_norm / total_norm,
    otherwise the values are unchanged. Always returns new arrays.
    """
    xp = get_array_module(*grads.values())
    total_norm = xp.sqrt(xp.asarray(sum((g * g).sum() for g in grads.values())))
    norm = float(total_norm)
    scale = max_norm / norm if norm > max_norm else 1.0
    return {k: g * scale for k, g in grads.items()}, total_norm


def sample_next(logits, *, rng, temperature=1.0, top_k=None):
    """Draw one index per row from softmax(logits / temperature), optionally among the top_k logits.

    Shapes: logits (N, V) -> (N,) int64.
    Notes: top_k keeps every logit >= the k-th largest of its row (ties at the k-th value are
    all kept). temperature 0 is the limit temperature -> 0: uniform over each row's maxima
    (argmax when unique). Inverse-CDF sampling with exactly one draw, u = rng.random((N, 1)):
    row n returns the smallest i with cumsum(p)[i] > u[n] * sum(p), p the unnormalised
    probabilities exp((logits - max) / temperature) (0 outside the top_k), computed in float64.
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    xp = get_array_module(logits)
    s = logits.astype(xp.float64)
    N, V = s.shape
    z = s - s.max(axis=-1, keepdims=True)
    keep = xp.ones(s.shape, dtype=bool)
    if top_k is not None and top_k < V:
        kth = -xp.partition(-s, top_k - 1, axis=-1)[:, top_k - 1:top_k]
        keep = s >= kth
    p = xp.where(keep & (z == 0), 1.0, 0.0) if temperature == 0 else xp.where(keep, xp.exp(z / temperature), 0.0)
    cdf = xp.cumsum(p, axis=-1)
    u = xp.asarray(rng.random((N, 1))) * cdf[:, -1:]
    idx = (cdf <= u).sum(axis=-1)
    last = V - 1 - xp.argmax(p[:, ::-1] > 0, axis=-1)  # guards u * sum(p) rounding up to sum(p)
    return xp.minimum(idx, last).astype(xp.int64)
