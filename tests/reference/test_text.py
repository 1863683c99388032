"""reference/text.py: gradient clipping against PyTorch, sampling statistics and reproducibility."""
import copy

import numpy as np
import pytest

from reference.text import clip_grad_norm, sample_next

from .helpers import assert_close


def grads_of(scale, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return {"W": (scale * rng.standard_normal((3, 4))).astype(dtype),
            "b": (scale * rng.standard_normal(4)).astype(dtype), "c": np.asarray(scale, dtype=dtype)}


@pytest.mark.parametrize("scale, max_norm", [(10.0, 1.0), (1.0, 2.5), (0.1, 100.0)],
                         ids=["clipped", "clipped-slightly", "unchanged"])
def test_clip_grad_norm_vs_torch(scale, max_norm):
    torch = pytest.importorskip("torch")
    grads = grads_of(scale)
    before = copy.deepcopy(grads)
    clipped, total = clip_grad_norm(grads, max_norm)
    tensors = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads.values()]
    for t, g in zip(tensors, grads.values()):
        t.grad = torch.tensor(g)
    total_t = torch.nn.utils.clip_grad_norm_(tensors, max_norm)
    assert np.ndim(total) == 0
    assert_close(total, total_t.item(), 1e-12, 0, "total_norm")
    assert_close(total, np.sqrt(sum((g ** 2).sum() for g in grads.values())), 1e-12, 0, "total_norm (global L2)")
    for (k, g), t in zip(clipped.items(), tensors):
        assert_close(g, t.grad.numpy(), 1e-6, 1e-12, f"clipped d{k}")  # torch divides by total + 1e-6
        assert g is not grads[k] and not np.shares_memory(g, grads[k]), f"{k}: not a new array"
        assert np.array_equal(grads[k], before[k]), f"{k}: input modified"
    after = np.sqrt(sum((g ** 2).sum() for g in clipped.values()))
    assert after <= max_norm * (1 + 1e-12)
    if total <= max_norm:
        assert all(np.array_equal(clipped[k], grads[k]) for k in grads), "below max_norm: values unchanged"
    else:
        assert_close(after, max_norm, 1e-12, 0, "norm after clipping")
        ratios = [clipped[k] / grads[k] for k in grads]
        assert_close(np.concatenate([r.ravel() for r in ratios]), np.full(17, max_norm / total), 1e-12, 0,
                     "one common factor")


def test_clip_grad_norm_float32():
    grads = grads_of(10.0, np.float32)
    clipped, total = clip_grad_norm(grads, 1.0)
    assert total.dtype == np.float32 and {g.dtype for g in clipped.values()} == {np.dtype(np.float32)}


# --- sample_next ----------------------------------------------------------------------------------

LOGITS = np.array([2.0, 1.0, 0.5, -1.0, 0.0, 1.5])


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def frequencies(logits, n=40000, seed=0, **kwargs):
    idx = sample_next(np.tile(logits, (n, 1)), rng=np.random.default_rng(seed), **kwargs)
    assert idx.shape == (n,) and idx.dtype == np.int64
    return np.bincount(idx, minlength=len(logits)) / n


def assert_matches(freq, p, n=40000, name=""):
    """Every frequency within 5 standard errors of its probability (zero probabilities: never drawn)."""
    se = np.sqrt(p * (1 - p) / n)
    bad = np.abs(freq - p) > 5 * se + 1e-12
    assert not bad.any(), f"{name}: frequencies {freq.round(4)} vs probabilities {p.round(4)}"


@pytest.mark.parametrize("temperature", [1.0, 0.5, 2.0], ids=["T1", "T0.5", "T2"])
def test_sample_frequencies_match_softmax(temperature):
    assert_matches(frequencies(LOGITS, temperature=temperature), softmax(LOGITS / temperature), name=f"T={temperature}")


def test_sample_top_k_restricts_support_and_keeps_ties():
    freq = frequencies(LOGITS, top_k=3)
    p = np.where(LOGITS >= 1.0, softmax(LOGITS), 0)
    assert_matches(freq, p / p.sum(), name="top_k=3")
    tied = np.array([1.0, 3.0, 2.0, 3.0, 2.0, 2.0, -1.0])  # top 2 are the two 3s; top 3 also keeps all three 2s
    p = np.where(tied >= 2.0, softmax(tied), 0)
    assert_matches(frequencies(tied, top_k=3), p / p.sum(), name="ties at the k-th value")
    assert set(np.flatnonzero(frequencies(tied, top_k=2))) == {1, 3}
    assert_matches(frequencies(tied, top_k=99), softmax(tied), name="top_k > V")
    assert set(np.flatnonzero(frequencies(LOGITS, top_k=1))) == {0}


def test_sample_rows_are_independent_distributions():
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((3, 5)) * 2
    n = 20000
    idx = sample_next(np.repeat(logits, n, axis=0), rng=np.random.default_rng(2), temperature=0.8)
    for r in range(3):
        freq = np.bincount(idx[r * n:(r + 1) * n], minlength=5) / n
        assert_matches(freq, softmax(logits[r] / 0.8), n=n, name=f"row {r}")


def test_sample_low_temperature_is_argmax():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((50, 7))
    for temperature in [1e-3, 1e-12, 0.0]:
        got = sample_next(logits, rng=np.random.default_rng(1), temperature=temperature)
        assert np.array_equal(got, logits.argmax(axis=1)), f"temperature {temperature}"
    ties = np.array([[0.0, 5.0, 5.0, 1.0]] * 4000)
    assert set(sample_next(ties, rng=np.random.default_rng(0), temperature=0.0)) == {1, 2}, "T=0 keeps tied maxima"


def test_sample_is_inverse_cdf_with_one_draw_per_row():
    logits = np.random.default_rng(0).standard_normal((500, 9)) * 3
    rng = np.random.default_rng(42)
    got = sample_next(logits, rng=rng, temperature=1.3, top_k=4)
    reference = np.random.default_rng(42)
    u = reference.random((500, 1))
    assert rng.random() == reference.random(), "sample_next must draw exactly rng.random((N, 1))"
    kth = np.sort(logits, axis=1)[:, -4:-3]
    p = np.where(logits >= kth, np.exp((logits - logits.max(axis=1, keepdims=True)) / 1.3), 0)
    cdf = np.cumsum(p, axis=1)
    expected = [np.searchsorted(c, v * c[-1], side="right") for c, v in zip(cdf, u[:, 0])]
    assert np.array_equal(got, expected)
    again = sample_next(logits, rng=np.random.default_rng(42), temperature=1.3, top_k=4)
    assert np.array_equal(got, again), "same seed, same draws"


def test_sample_float32_large_logits_and_purity():
    logits = (np.random.default_rng(0).standard_normal((100, 5)) * 1000).astype(np.float32)
    logits0 = logits.copy()
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        got = sample_next(logits, rng=np.random.default_rng(0))
    assert np.array_equal(got, logits.argmax(axis=1)) and np.array_equal(logits, logits0)
    with pytest.raises(ValueError):
        sample_next(logits, rng=np.random.default_rng(0), temperature=-1.0)
    with pytest.raises(ValueError):
        sample_next(logits, rng=np.random.default_rng(0), top_k=0)
