"""reference/losses.py: gradient checks, PyTorch agreement, dtypes, purity, stability."""
import copy

import numpy as np
import pytest

from reference import losses as Ls

from .helpers import assert_close, no_fp_warnings, numerical_grad


def normal(rng, shape):
    return rng.standard_normal(shape)


def probs(rng, shape):
    """Rows of probabilities with some exact zeros (to exercise 0 log 0 = 0)."""
    p = rng.uniform(0, 1, shape) * (rng.uniform(0, 1, shape) > 0.3)
    p[..., 0] += 0.1
    return p / p.sum(axis=-1, keepdims=True)


def log_probs(rng, shape):
    s = rng.standard_normal(shape)
    return s - np.logaddexp.reduce(s, axis=-1, keepdims=True)


def labels(rng, shape):
    return rng.integers(0, shape[-1], shape[0])


def case(name, loss, shape, make_scores, make_target, torch_fn):
    """torch_fn(F, scores, target, N, C) is the same loss on torch tensors."""
    return pytest.param(loss, shape, make_scores, make_target, torch_fn, id=f"{name}-{'x'.join(map(str, shape))}")


CASES = [
    *[case("mse", Ls.MSELoss(), s, normal, normal, lambda F, s, t, N, C: F.mse_loss(s, t, reduction="sum") / N)
      for s in [(1, 1), (5, 3), (2, 3, 4)]],
    *[case("mae", Ls.MAELoss(), s, normal, normal, lambda F, s, t, N, C: F.l1_loss(s, t, reduction="sum") / N)
      for s in [(1, 1), (5, 3), (2, 3, 4)]],
    *[case("bce_logits", Ls.BCEWithLogitsLoss(), s, lambda r, s: 3 * r.standard_normal(s), lambda r, s: r.uniform(0, 1, s),
           lambda F, s, t, N, C: F.binary_cross_entropy_with_logits(s, t, reduction="sum") / N)
      for s in [(1, 1), (5, 3), (2, 3, 4)]],
    *[case("cross_entropy", Ls.CrossEntropyLoss(), s, normal, labels, lambda F, s, t, N, C: F.cross_entropy(s, t))
      for s in [(1, 1), (1, 4), (5, 3)]],
    *[case("nll", Ls.NLLLoss(), s, log_probs, labels, lambda F, s, t, N, C: F.nll_loss(s, t))
      for s in [(1, 1), (1, 4), (5, 3)]],
    *[case("hinge", Ls.HingeLoss(), s, normal, labels,
           lambda F, s, t, N, C: F.multi_margin_loss(s, t, reduction="sum") * C / N)
      for s in [(1, 1), (1, 4), (5, 3)]],
    case("hinge-0.3", Ls.HingeLoss(margin=0.3), (7, 5), normal, labels,
         lambda F, s, t, N, C: F.multi_margin_loss(s, t, margin=0.3, reduction="sum") * C / N),
    *[case("kl_div", Ls.KLDivLoss(), s, log_probs, probs,
           lambda F, s, t, N, C: F.kl_div(s, t, reduction="batchmean"))
      for s in [(1, 1), (1, 4), (5, 3)]],
]


def make_inputs(shape, make_scores, make_target, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    scores, target = make_scores(rng, shape).astype(dtype), make_target(rng, shape)
    return scores, (target.astype(dtype) if target.dtype.kind == "f" else target)


@pytest.mark.parametrize("loss, shape, make_scores, make_target, torch_fn", CASES)
def test_gradcheck(loss, shape, make_scores, make_target, torch_fn):
    scores, target = make_inputs(shape, make_scores, make_target)
    value, cache = loss.forward(scores, target)
    assert value.shape == () and value.dtype == np.float64
    dloss = np.random.default_rng(1).standard_normal()  # random upstream gradient of the scalar loss
    expected = numerical_grad(lambda s: loss.forward(s, target)[0], scores, dloss)
    assert_close(dloss * loss.backward(cache), expected, 1e-5, 1e-8, "dscores")


@pytest.mark.parametrize("loss, shape, make_scores, make_target, torch_fn", CASES)
def test_vs_torch(loss, shape, make_scores, make_target, torch_fn):
    torch = pytest.importorskip("torch")
    scores, target = make_inputs(shape, make_scores, make_target)
    value, cache = loss.forward(scores, target)
    st = torch.tensor(scores, requires_grad=True)
    expected = torch_fn(torch.nn.functional, st, torch.tensor(target), shape[0], shape[-1])
    expected.backward()
    assert_close(value, expected.detach().numpy(), 1e-10, 1e-12, "loss")
    assert_close(loss.backward(cache), st.grad.numpy(), 1e-10, 1e-12, "dscores")


@pytest.mark.parametrize("loss, shape, make_scores, make_target, torch_fn", CASES)
def test_float32_in_float32_out(loss, shape, make_scores, make_target, torch_fn):
    scores, target = make_inputs(shape, make_scores, make_target, dtype=np.float32)
    value, cache = loss.forward(scores, target)
    grad = loss.backward(cache)
    assert (type(value), value.shape, value.dtype, grad.dtype) == (np.ndarray, (), np.float32, np.float32)
    value64, _ = loss.forward(scores.astype(np.float64), target)
    assert_close(value, value64, 1e-5, 1e-6, "float32 loss vs float64 loss")


@pytest.mark.parametrize("loss, shape, make_scores, make_target, torch_fn", CASES)
def test_inputs_not_modified(loss, shape, make_scores, make_target, torch_fn):
    scores, target = make_inputs(shape, make_scores, make_target)
    scores0, target0 = scores.copy(), target.copy()
    loss.backward(loss.forward(scores, target)[1])
    assert np.array_equal(scores, scores0) and np.array_equal(target, target0)


def test_mae_gradient_is_zero_where_equal():
    s = np.array([[1.0, 2.0, 3.0]])
    assert_close(Ls.MAELoss().backward(Ls.MAELoss().forward(s, s.copy())[1]), np.zeros_like(s), 0, 0, "dscores")


def test_float64_target_does_not_promote_float32_scores():
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((3, 4)).astype(np.float32)
    targets = [(Ls.MSELoss(), rng.standard_normal((3, 4))), (Ls.MAELoss(), rng.standard_normal((3, 4))),
               (Ls.BCEWithLogitsLoss(), rng.uniform(0, 1, (3, 4))), (Ls.KLDivLoss(), probs(rng, (3, 4)))]
    for loss, target in targets:
        value, cache = loss.forward(scores, target)
        assert value.dtype == np.float32 and loss.backward(cache).dtype == np.float32, loss


def test_hinge_counts_only_violated_margins():
    s = np.array([[3.0, 1.0, 2.5, -1.0]])  # label 0: class 2 violates by 0.5, others satisfy
    value, cache = Ls.HingeLoss().forward(s, np.array([0]))
    assert_close(value, 0.5, 0, 1e-15, "loss")
    assert_close(Ls.HingeLoss().backward(cache), [[-1.0, 0.0, 1.0, 0.0]], 0, 1e-15, "dscores")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("loss, target, expected_loss, expected_grad", [
    # scores [[1000, -1000, 0], [-1000, 1000, 1000]] for every case; expectations in closed form
    pytest.param(Ls.CrossEntropyLoss(), np.array([1, 2]), (2000 + np.log(2)) / 2,
                 [[0.5, -0.5, 0], [0, 0.25, -0.25]], id="cross_entropy"),
    pytest.param(Ls.BCEWithLogitsLoss(), np.array([[0, 1, 0.5], [1, 0, 1]]), (1000 + 1000 + np.log(2) + 1000 + 1000) / 2,
                 [[0.5, -0.5, 0], [-0.5, 0.5, 0]], id="bce_logits"),
    pytest.param(Ls.HingeLoss(), np.array([1, 0]), (2001 + 1001 + 2001 + 2001) / 2,
                 [[0.5, -1, 0.5], [-1, 0.5, 0.5]], id="hinge"),
])
def test_stable_for_large_logits(loss, target, expected_loss, expected_grad, dtype):
    scores = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 1000.0]], dtype=dtype)
    with no_fp_warnings():
        value, cache = loss.forward(scores, target.astype(dtype) if target.dtype.kind == "f" else target)
        grad = loss.backward(cache)
    assert value.dtype == dtype and grad.dtype == dtype
    assert_close(value, expected_loss, 1e-6, 0, "loss")
    assert_close(grad, np.array(expected_grad, dtype=np.float64), 1e-6, 1e-7, "dscores")
