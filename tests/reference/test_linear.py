"""reference/linear.py: logistic regression and linear classifiers against loop versions written
here, float64 central differences and PyTorch; stability, dtype, purity, SGD's batches."""
import copy

import numpy as np
import pytest

from reference import linear as L
from reference.backend import get_array_module
from tests.devices import ARRAY_MODULES

from .helpers import assert_close, no_fp_warnings, numerical_grad
from .test_array_modules import TOL, assert_trees, same


# --------------------------------------------------------------------------- independent loop versions
def svm_loops(W, X, y, reg):
    """The textbook double loop (CS231n's svm_loss_naive), margins > 0 strictly."""
    dW = np.zeros_like(W)
    loss = 0.0
    n, c = X.shape[0], W.shape[1]
    for i in range(n):
        s = X[i] @ W
        for j in range(c):
            if j == y[i]:
                continue
            margin = s[j] - s[y[i]] + 1
            if margin > 0:
                loss += margin
                dW[:, j] += X[i]
                dW[:, y[i]] -= X[i]
    return loss / n + reg * np.sum(W * W), dW / n + 2 * reg * W


def softmax_loops(W, X, y, reg):
    dW = np.zeros_like(W)
    loss = 0.0
    n, c = X.shape[0], W.shape[1]
    for i in range(n):
        s = X[i] @ W
        s = s - s.max()
        p = np.exp(s) / np.exp(s).sum()
        loss -= s[y[i]] - np.log(np.exp(s).sum())
        for j in range(c):
            dW[:, j] += (p[j] - (j == y[i])) * X[i]
    return loss / n + reg * np.sum(W * W), dW / n + 2 * reg * W


def problem(n=7, d=5, c=4, scale=1.0, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    W = (0.5 * rng.standard_normal((d, c))).astype(dtype)
    X = (scale * rng.standard_normal((n, d))).astype(dtype)
    return W, X, rng.integers(0, c, n)


def logistic_problem(n=6, d=4, scale=1.0, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    w, b = rng.standard_normal(d).astype(dtype), np.asarray(rng.standard_normal(), dtype=dtype)
    X = (scale * rng.standard_normal((n, d))).astype(dtype)
    return w, b, X, rng.integers(0, 2, n).astype(dtype)


LOSSES = [(L.svm_loss, svm_loops), (L.softmax_loss, softmax_loops)]
LOSS_IDS = ["svm", "softmax"]


# --------------------------------------------------------------------------- logistic regression
def test_sigmoid_matches_torch_and_is_stable():
    torch = pytest.importorskip("torch")
    z = np.concatenate([np.linspace(-40, 40, 81), [-1000.0, 1000.0, -710.0, 710.0, 0.0]])
    with no_fp_warnings():
        p = L.sigmoid(z)
        p32 = L.sigmoid(z.astype(np.float32))
    assert_close(p, torch.sigmoid(torch.tensor(z)).numpy(), 1e-15, 1e-300, "sigmoid")
    assert p32.dtype == np.float32 and p[-5] == 0.0 and p[-4] == 1.0 and p[-1] == 0.5


@pytest.mark.parametrize("fn, torch_loss", [("logistic_mse_loss", "mse"), ("logistic_log_loss", "bce")],
                         ids=["mse", "log"])
def test_logistic_losses_match_torch(fn, torch_loss):
    torch = pytest.importorskip("torch")
    w, b, X, y = logistic_problem()
    loss, dw, db = getattr(L, fn)(w, b, X, y)
    wt, bt = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
    z = torch.tensor(X) @ wt + bt
    F = torch.nn.functional
    lt = F.mse_loss(torch.sigmoid(z), torch.tensor(y)) if torch_loss == "mse" else \
        F.binary_cross_entropy_with_logits(z, torch.tensor(y))
    lt.backward()
    assert loss.shape == () and db.shape == () and dw.shape == w.shape
    assert_close(loss, lt.item(), 1e-12, 1e-15, "loss")
    assert_close(dw, wt.grad.numpy(), 1e-12, 1e-15, "dw")
    assert_close(db, bt.grad.numpy(), 1e-12, 1e-15, "db")


@pytest.mark.parametrize("fn", [L.logistic_mse_loss, L.logistic_log_loss], ids=["mse", "log"])
@pytest.mark.parametrize("n", [1, 6], ids=["batch of 1", "batch of 6"])
def test_logistic_gradcheck(fn, n):
    w, b, X, y = logistic_problem(n=n, seed=n)
    _, dw, db = fn(w, b, X, y)
    assert_close(dw, numerical_grad(lambda w_: fn(w_, b, X, y)[0], w, 1.0), 1e-6, 1e-9, "dw")
    assert_close(db, numerical_grad(lambda b_: fn(w, b_, X, y)[0], b, 1.0), 1e-6, 1e-9, "db")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_log_loss_stable_dtype_pure(dtype):
    w, b, X, y = logistic_problem(scale=1000.0, dtype=dtype)
    before = copy.deepcopy((w, b, X, y))
    with no_fp_warnings():
        out = L.logistic_log_loss(w, b, X, y)
        L.logistic_mse_loss(w, b, X, y)
    assert all(np.isfinite(v).all() and v.dtype == dtype for v in out)
    assert all(np.array_equal(a, e) for a, e in zip((w, b, X, y), before))
    z = X.astype(np.float64) @ w.astype(np.float64) + float(b)
    expected = np.mean(np.maximum(z, 0) - y * z + np.log1p(np.exp(-np.abs(z))))
    assert_close(out[0], expected, 1e-5 if dtype == np.float32 else 1e-12, 0, "loss at |z| ~ 1000")


def test_gd_step_is_pure_and_keeps_dtype():
    w, b = np.ones(3, np.float32), np.asarray(0.5, np.float32)
    dw, db = np.arange(3, dtype=np.float32), np.asarray(2.0, np.float32)
    w2, b2 = L.gd_step(w, b, dw, db, lr=0.1)
    assert_close(w2, [1.0, 0.9, 0.8], 1e-7, 0, "w")
    assert_close(b2, 0.3, 1e-6, 0, "b")
    assert w2.dtype == b2.dtype == np.float32 and (w == 1).all() and b == 0.5


def test_gradient_descent_fits_a_separable_problem():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((200, 2))
    y = (X @ np.array([2.0, -1.0]) + 0.5 > 0).astype(np.float64)
    w, b = np.zeros(2), np.asarray(0.0)
    for _ in range(300):
        loss, dw, db = L.logistic_log_loss(w, b, X, y)
        w, b = L.gd_step(w, b, dw, db, lr=1.0)
    assert loss < 0.1 and np.mean((L.sigmoid(X @ w + b) > 0.5) == y) > 0.97


# --------------------------------------------------------------------------- linear classifiers
@pytest.mark.parametrize("reg", [0.0, 0.3], ids=["reg=0", "reg=0.3"])
@pytest.mark.parametrize("n", [1, 7], ids=["batch of 1", "batch of 7"])
@pytest.mark.parametrize("fn, loops", LOSSES, ids=LOSS_IDS)
def test_vectorised_matches_loops_and_differences(fn, loops, n, reg):
    W, X, y = problem(n=n, seed=n)
    loss, dW = fn(W, X, y, reg)
    loss_l, dW_l = loops(W, X, y, reg)
    assert loss.shape == () and dW.shape == W.shape
    assert_close(loss, loss_l, 1e-12, 1e-15, "loss vs loops")
    assert_close(dW, dW_l, 1e-12, 1e-15, "dW vs loops")
    assert_close(dW, numerical_grad(lambda W_: fn(W_, X, y, reg)[0], W, 1.0), 1e-6, 1e-9, "dW vs differences")


def test_svm_matches_torch_multi_margin():
    torch = pytest.importorskip("torch")
    W, X, y = problem(n=9, c=5)
    Wt = torch.tensor(W, requires_grad=True)
    # torch divides each sample's sum by the number of classes C
    lt = torch.nn.functional.multi_margin_loss(torch.tensor(X) @ Wt, torch.tensor(y), margin=1.0) * W.shape[1]
    (lt + 0.2 * (Wt * Wt).sum()).backward()
    loss, dW = L.svm_loss(W, X, y, 0.2)
    assert_close(loss, lt.item() + 0.2 * np.sum(W * W), 1e-12, 1e-15, "loss")
    assert_close(dW, Wt.grad.numpy(), 1e-12, 1e-15, "dW")


def test_softmax_matches_torch_cross_entropy():
    torch = pytest.importorskip("torch")
    W, X, y = problem(n=9, c=5)
    Wt = torch.tensor(W, requires_grad=True)
    lt = torch.nn.functional.cross_entropy(torch.tensor(X) @ Wt, torch.tensor(y)) + 0.2 * (Wt * Wt).sum()
    lt.backward()
    loss, dW = L.softmax_loss(W, X, y, 0.2)
    assert_close(loss, lt.item(), 1e-12, 1e-15, "loss")
    assert_close(dW, Wt.grad.numpy(), 1e-12, 1e-15, "dW")


def test_svm_margin_exactly_zero_counts_nothing():
    """Scores with s_j - s_y + 1 == 0 exactly: no loss and no gradient from that class."""
    W = np.array([[1.0, 0.0, 0.5], [0.0, 0.0, 0.0]])
    X = np.array([[1.0, 2.0]])  # s = [1, 0, 0.5], y = 0: margins [-, 0, 0.5]
    loss, dW = L.svm_loss(W, X, np.array([0]), 0.0)
    assert loss == 0.5
    assert_close(dW, [[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0]], 0, 0, "dW")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("fn, loops", LOSSES, ids=LOSS_IDS)
def test_losses_stable_dtype_pure(fn, loops, dtype):
    W, X, y = problem(scale=1000.0, dtype=dtype)
    before = copy.deepcopy((W, X, y))
    with no_fp_warnings():
        loss, dW = fn(W, X, y, 0.1)
    assert loss.dtype == dW.dtype == dtype and np.isfinite(loss) and np.isfinite(dW).all()
    assert all(np.array_equal(a, e) for a, e in zip((W, X, y), before))
    loss64, dW64 = loops(W.astype(np.float64), X.astype(np.float64), y, 0.1)
    assert_close(loss, loss64, 1e-4 if dtype == np.float32 else 1e-12, 0, "loss at scores ~ 1000")


def test_predict_takes_the_first_maximum():
    W = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 2.0]])
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.5]])  # ties between 0 and 1; class 2; tie 0, 1, 2
    pred = L.predict(W, X)
    assert pred.dtype == np.int64 and pred.tolist() == [0, 2, 0]


@pytest.mark.parametrize("loss", ["svm", "softmax"])
def test_train_sgd_follows_the_contract(loss):
    W, X, y = problem(n=20)
    before = W.copy()
    W2, history = L.train_sgd(W, X, y, loss=loss, reg=0.1, lr=0.5, batch_size=4, steps=6,
                              rng=np.random.default_rng(5))
    rng, Wt, expected = np.random.default_rng(5), W.copy(), []
    for _ in range(6):
        idx = rng.integers(0, 20, size=4)
        value, dW = (svm_loops if loss == "svm" else softmax_loops)(Wt, X[idx], y[idx], 0.1)
        expected.append(value)
        Wt = Wt - 0.5 * dW
    assert np.array_equal(W, before) and history.shape == (6,)
    assert_close(history, expected, 1e-12, 1e-15, "history")
    assert_close(W2, Wt, 1e-12, 1e-15, "W")


def test_training_lowers_the_loss():
    W, X, _ = problem(n=200, d=6, c=3, seed=4)
    y = (X @ W).argmax(axis=1)  # learnable labels
    W0 = np.zeros_like(W)
    _, history = L.train_sgd(W0, X, y, loss="softmax", lr=0.5, batch_size=50, steps=200, rng=np.random.default_rng(0))
    assert history[-20:].mean() < history[:5].mean() - 0.2


@ARRAY_MODULES
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_array_modules(xp, dtype):
    """The same results on NumPy, the CuPy stand-in and CuPy (every output a device array)."""
    W, X, y = problem(n=9, c=5, dtype=dtype)
    w, b, Xl, yl = logistic_problem(dtype=dtype)

    def run(W, X, y, w, b, Xl, yl):
        out = {"svm": L.svm_loss(W, X, y, 0.1), "softmax": L.softmax_loss(W, X, y, 0.1), "predict": L.predict(W, X),
               "mse": L.logistic_mse_loss(w, b, Xl, yl), "log": L.logistic_log_loss(w, b, Xl, yl),
               "gd": L.gd_step(w, b, w, b, 0.1), "sigmoid": L.sigmoid(1000 * Xl)}
        rng = get_array_module(W).random.default_rng(0)
        out["sgd"] = L.train_sgd(W, X, y, steps=3, batch_size=4, rng=rng)[0].shape
        return out
    expected, got = same(xp, run, W, X, y, w, b, Xl, yl)
    assert got.pop("sgd") == expected.pop("sgd") == W.shape  # device generators draw other batches
    assert_trees(got, expected, *TOL[np.dtype(dtype)])
