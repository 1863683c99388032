"""reference/word2vec.py: SGNS loss and gradients against PyTorch and float64 differences; subsampling."""
import copy

import numpy as np
import pytest

from reference.word2vec import keep_probability, sgns_loss

from .helpers import assert_close, no_fp_warnings, numerical_grad


def batch(B=6, K=3, V=5, D=4, scale=1.0, dtype=np.float64, seed=0):
    """Indices with repeats across centre, context and negatives (V small), and random params."""
    rng = np.random.default_rng(seed)
    center, context, negatives = rng.integers(0, V, B), rng.integers(0, V, B), rng.integers(0, V, (B, K))
    params = {k: (scale * rng.standard_normal((V, D))).astype(dtype) for k in ("W_in", "W_out")}
    return center, context, negatives, params


def test_sgns_vs_torch():
    torch = pytest.importorskip("torch")
    center, context, negatives, params = batch()
    loss, grads = sgns_loss(center, context, negatives, params)
    W_in, W_out = (torch.tensor(params[k], requires_grad=True) for k in ("W_in", "W_out"))
    v, u_o, u_k = W_in[center], W_out[context], W_out[negatives]
    F = torch.nn.functional
    lt = -(F.logsigmoid((u_o * v).sum(-1)) + F.logsigmoid(-torch.einsum("bkd,bd->bk", u_k, v)).sum(-1)).mean()
    lt.backward()
    assert loss.shape == () and loss.dtype == np.float64 and grads.keys() == {"W_in", "W_out"}
    assert_close(loss, lt.item(), 1e-12, 1e-14, "loss")
    assert_close(grads["W_in"], W_in.grad.numpy(), 1e-12, 1e-14, "dW_in")
    assert_close(grads["W_out"], W_out.grad.numpy(), 1e-12, 1e-14, "dW_out")


def test_sgns_gradcheck():
    center, context, negatives, params = batch(B=4, K=2, V=3, D=2, seed=1)
    loss, grads = sgns_loss(center, context, negatives, params)
    for k, p in params.items():
        f = lambda p_: sgns_loss(center, context, negatives, {**params, k: p_})[0]  # noqa: E731
        assert_close(grads[k], numerical_grad(f, p, 1.0), 1e-6, 1e-9, f"d{k}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_sgns_dtype_stability_purity(dtype):
    center, context, negatives, params = batch(scale=30.0, dtype=dtype)
    before = copy.deepcopy(params)
    with no_fp_warnings():
        loss, grads = sgns_loss(center, context, negatives, params)
    assert loss.dtype == dtype and {g.dtype for g in grads.values()} == {np.dtype(dtype)}
    assert np.isfinite(loss) and all(np.isfinite(g).all() for g in grads.values())
    assert all(np.array_equal(params[k], before[k]) for k in params)
    as64 = {k: v.astype(np.float64) for k, v in params.items()}
    assert_close(loss, sgns_loss(center, context, negatives, as64)[0], 1e-5, 1e-5, "loss vs float64")


def test_keep_probability():
    counts = np.array([1000000, 50000, 1000, 10, 0, 1])
    t = 1e-3
    z = counts / counts.sum()
    with np.errstate(divide="ignore"):
        expected = np.minimum((np.sqrt(z / t) + 1) * t / z, 1)
    expected[counts == 0] = 1
    with no_fp_warnings():
        p = keep_probability(counts, t=t)
    assert p.dtype == np.float64
    assert_close(p, expected, 1e-12, 0, "keep probability")
    assert p[0] < 0.1 and (p[2:] == 1).all(), "frequent words dropped, rare words capped at 1"
    assert_close(keep_probability(counts.astype(np.float32)), expected, 1e-5, 0, "float32")
    assert keep_probability(counts.astype(np.float32)).dtype == np.float32
    seen = counts[counts > 0]
    z = seen / seen.sum()
    assert_close(keep_probability(seen, t=1e-5), np.minimum((np.sqrt(z / 1e-5) + 1) * 1e-5 / z, 1), 1e-12, 0, "t=1e-5")
