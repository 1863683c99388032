"""reference/rnn.py: gradient checks (steps and BPTT), PyTorch agreement, state carrying, stability, dtypes."""
import copy
import inspect
import json

import numpy as np
import pytest

from reference import rnn as R
from reference.backend import cupy_available

from .helpers import assert_close, no_fp_warnings, numerical_grad

CELLS = [pytest.param(R.RNN, id="rnn"), pytest.param(R.LSTM, id="lstm"), pytest.param(R.GRU, id="gru")]
SHAPES = [pytest.param((1, 1, 1, 1), id="N1-T1-D1-H1"), pytest.param((2, 4, 3, 2), id="N2-T4-D3-H2"),
          pytest.param((3, 2, 2, 5), id="N3-T2-D2-H5")]


def carry_names(cls):
    return ("h", "c") if cls is R.LSTM else ("h",)


def make(cls, shape, dtype=np.float64, seed=0, scale=1.0):
    """A layer, random x (N, T, D), random params and a random initial state, all in `dtype`."""
    N, T, D, H = shape
    layer, rng = cls(input_size=D, hidden_size=H), np.random.default_rng(seed)
    params = {k: (scale * rng.standard_normal(v.shape)).astype(dtype) for k, v in layer.init_params(rng).items()}
    x = (scale * rng.standard_normal((N, T, D))).astype(dtype)
    h0 = {k: rng.standard_normal((N, H)).astype(dtype) for k in carry_names(cls)}
    return layer, x, params, h0


def run(layer, x, params, h0):
    """Forward from initial state h0 (copied: forward replaces its entries)."""
    return layer.forward(x, params, state=dict(h0))[0]


def pack(cls, carry):
    """A step's state as step() takes it: h, or (h, c) for the LSTM."""
    return tuple(carry[k] for k in carry_names(cls)) if cls is R.LSTM else carry["h"]


def flat(cls, out):
    """A step's output as one array (h and c side by side for the LSTM)."""
    return np.concatenate(out, axis=-1) if cls is R.LSTM else out


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("cls", CELLS)
def test_sequence_gradcheck(cls, shape):
    layer, x, params, h0 = make(cls, shape)
    hs, cache = layer.forward(x, params, state=dict(h0))
    dhs = np.random.default_rng(1).standard_normal(hs.shape)  # upstream gradient at every step
    dx, grads = layer.backward(dhs, cache)
    assert grads.keys() == params.keys()
    assert_close(dx, numerical_grad(lambda x_: run(layer, x_, params, h0), x, dhs), 1e-5, 1e-8, "dx")
    for k, p in params.items():
        f = lambda p_: run(layer, x, {**params, k: p_}, h0)  # noqa: E731
        assert_close(grads[k], numerical_grad(f, p, dhs), 1e-5, 1e-8, f"d{k}")


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("cls", CELLS)
def test_step_gradcheck(cls, shape):
    layer, x, params, h0 = make(cls, shape)
    x_t = x[:, 0]
    out, cache = layer.step(x_t, pack(cls, h0), params)
    rng = np.random.default_rng(1)
    dout = {k: rng.standard_normal(h0[k].shape) for k in carry_names(cls)}
    dx_t, dh, grads = layer.step_backward(pack(cls, dout), cache)
    dy = flat(cls, pack(cls, dout))
    assert grads.keys() == params.keys()
    assert_close(dx_t, numerical_grad(lambda x_: flat(cls, layer.step(x_, pack(cls, h0), params)[0]), x_t, dy),
                 1e-5, 1e-8, "dx_t")
    for i, k in enumerate(carry_names(cls)):
        f = lambda v: flat(cls, layer.step(x_t, pack(cls, {**h0, k: v}), params)[0])  # noqa: E731
        assert_close(dh[i] if cls is R.LSTM else dh, numerical_grad(f, h0[k], dy), 1e-5, 1e-8, f"d{k}")
    for k, p in params.items():
        f = lambda p_: flat(cls, layer.step(x_t, pack(cls, h0), {**params, k: p_})[0])  # noqa: E731
        assert_close(grads[k], numerical_grad(f, p, dy), 1e-5, 1e-8, f"d{k}")


@pytest.mark.parametrize("cls", CELLS)
def test_sequence_is_steps(cls):
    """forward/backward over a sequence equal step/step_backward unrolled by hand."""
    layer, x, params, h0 = make(cls, (2, 3, 3, 4))
    hs, cache = layer.forward(x, params, state=dict(h0))
    dhs = np.random.default_rng(1).standard_normal(hs.shape)
    dx, grads = layer.backward(dhs, cache)
    carry, caches = pack(cls, h0), []
    for t in range(x.shape[1]):
        carry, c = layer.step(x[:, t], carry, params)
        caches.append(c)
        assert_close(hs[:, t], carry[0] if cls is R.LSTM else carry, 1e-14, 1e-14, f"h at t={t}")
    dcarry = tuple(np.zeros_like(h0[k]) for k in carry_names(cls))
    total = {k: np.zeros_like(v) for k, v in params.items()}
    for t in reversed(range(x.shape[1])):
        dnext = (dcarry[0] + dhs[:, t], *dcarry[1:])
        dx_t, dcarry, g = layer.step_backward(dnext if cls is R.LSTM else dnext[0], caches[t])
        dcarry = dcarry if cls is R.LSTM else (dcarry,)
        assert_close(dx[:, t], dx_t, 1e-12, 1e-14, f"dx at t={t}")
        total = {k: total[k] + g[k] for k in total}
    for k in params:
        assert_close(grads[k], total[k], 1e-12, 1e-14, f"d{k}")


def torch_module(torch, cls, params, D, H):
    """The torch.nn module with our weights: (G*H, D) layouts; our b split as b_ih + b_hh."""
    if cls is R.RNN:
        m = torch.nn.RNN(D, H, nonlinearity="tanh", batch_first=True, dtype=torch.float64)
    else:
        m = getattr(torch.nn, cls.__name__)(D, H, batch_first=True, dtype=torch.float64)
    b_hh = params["bh"] if cls is R.GRU else np.random.default_rng(5).standard_normal(params["b"].shape)
    b_ih = params["bx"] if cls is R.GRU else params["b"] - b_hh
    with torch.no_grad():
        for name, value in [("weight_ih_l0", params["Wx"].T), ("weight_hh_l0", params["Wh"].T),
                            ("bias_ih_l0", b_ih), ("bias_hh_l0", b_hh)]:
            getattr(m, name).copy_(torch.tensor(value))
    return m


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("cls", CELLS)
def test_vs_torch(cls, shape):
    torch = pytest.importorskip("torch")
    N, T, D, H = shape
    layer, x, params, h0 = make(cls, shape)
    state = dict(h0)
    hs, cache = layer.forward(x, params, state=state)
    dhs = np.random.default_rng(1).standard_normal(hs.shape)
    dx, grads = layer.backward(dhs, cache)
    m = torch_module(torch, cls, params, D, H)
    xt = torch.tensor(x, requires_grad=True)
    init = tuple(torch.tensor(h0[k][None]) for k in carry_names(cls))
    hst, final = m(xt, init if cls is R.LSTM else init[0])
    hst.backward(torch.tensor(dhs))
    final = final if cls is R.LSTM else (final,)
    assert_close(hs, hst.detach().numpy(), 1e-10, 1e-12, "hs")
    for k, v in zip(carry_names(cls), final):
        assert_close(state[k], v[0].detach().numpy(), 1e-10, 1e-12, f"final {k}")
    assert_close(dx, xt.grad.numpy(), 1e-10, 1e-12, "dx")
    assert_close(grads["Wx"], m.weight_ih_l0.grad.numpy().T, 1e-10, 1e-12, "dWx")
    assert_close(grads["Wh"], m.weight_hh_l0.grad.numpy().T, 1e-10, 1e-12, "dWh")
    if cls is R.GRU:
        assert_close(grads["bx"], m.bias_ih_l0.grad.numpy(), 1e-10, 1e-12, "dbx")
        assert_close(grads["bh"], m.bias_hh_l0.grad.numpy(), 1e-10, 1e-12, "dbh")
    else:
        assert_close(grads["b"], m.bias_ih_l0.grad.numpy(), 1e-10, 1e-12, "db")


@pytest.mark.parametrize("cls", CELLS)
def test_state_carries_across_calls(cls):
    """Two calls sharing a state dict equal one call on the concatenated sequence."""
    layer, x, params, h0 = make(cls, (3, 7, 2, 4))
    whole_state, split_state = dict(h0), dict(h0)
    hs, _ = layer.forward(x, params, state=whole_state)
    first, _ = layer.forward(x[:, :3], params, state=split_state)
    mid = copy.deepcopy(split_state)
    second, _ = layer.forward(x[:, 3:], params, state=split_state)
    assert_close(np.concatenate([first, second], axis=1), hs, 1e-13, 1e-14, "hs of two calls")
    assert_close(mid["h"], hs[:, 2], 1e-13, 1e-14, "state['h'] after the first call")
    for k in carry_names(cls):
        assert_close(split_state[k], whole_state[k], 1e-13, 1e-14, f"final {k}")


@pytest.mark.parametrize("cls", CELLS)
def test_missing_state_is_zeros(cls):
    layer, x, params, _ = make(cls, (2, 3, 2, 3))
    zeros = {k: np.zeros((2, 3)) for k in carry_names(cls)}
    expected = run(layer, x, params, zeros)
    state = {}
    assert_close(layer.forward(x, params)[0], expected, 0, 0, "state=None")
    assert_close(layer.forward(x, params, state=state)[0], expected, 0, 0, "state={}")
    assert set(state) == set(carry_names(cls)), f"the final state was not stored: {sorted(state)}"


@pytest.mark.parametrize("cls", CELLS)
def test_inputs_not_modified(cls):
    layer, x, params, h0 = make(cls, (2, 3, 2, 3))
    x0, params0, h00 = x.copy(), copy.deepcopy(params), copy.deepcopy(h0)
    state = dict(h0)
    hs, cache = layer.forward(x, params, state=state)
    dhs = np.random.default_rng(1).standard_normal(hs.shape)
    dhs0 = dhs.copy()
    layer.backward(dhs, cache)
    assert np.array_equal(x, x0) and np.array_equal(dhs, dhs0)
    assert all(np.array_equal(params[k], params0[k]) for k in params)
    assert all(np.array_equal(h0[k], h00[k]) for k in h0), "the initial state array was written into"
    assert all(state[k] is not h0[k] for k in h0), "state not replaced by the final state"


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("cls", CELLS)
def test_long_sequence_large_inputs_stay_finite(cls, dtype):
    """T=200 with inputs and weights of magnitude ~30: saturated gates, no overflow anywhere."""
    layer, x, params, h0 = make(cls, (2, 200, 3, 4), dtype=dtype, scale=30.0)
    with no_fp_warnings():
        state = dict(h0)
        hs, cache = layer.forward(x, params, state=state)
        dx, grads = layer.backward(np.ones_like(hs), cache)
    assert hs.dtype == dtype and np.isfinite(hs).all() and np.isfinite(dx).all()
    assert all(np.isfinite(g).all() for g in grads.values())
    assert np.abs(hs).max() <= max(1, max(np.abs(v).max() for v in h0.values()))
    assert all(np.isfinite(v).all() for v in state.values())


@pytest.mark.parametrize("cls", CELLS)
def test_float32_in_float32_out(cls):
    layer, x, params, h0 = make(cls, (2, 5, 3, 4), dtype=np.float32)
    state = dict(h0)
    hs, cache = layer.forward(x, params, state=state)
    dx, grads = layer.backward(np.ones_like(hs), cache)
    assert (hs.dtype, dx.dtype) == (np.float32, np.float32)
    assert {g.dtype for g in grads.values()} == {np.dtype(np.float32)}, {k: g.dtype for k, g in grads.items()}
    assert {v.dtype for v in state.values()} == {np.dtype(np.float32)}
    out, cache = layer.step(x[:, 0], pack(cls, h0), params)
    dx_t, dh, grads = layer.step_backward(out, cache)
    arrays = [dx_t, *(out if cls is R.LSTM else [out]), *(dh if cls is R.LSTM else [dh]), *grads.values()]
    assert {a.dtype for a in arrays} == {np.dtype(np.float32)}
    as64 = {k: v.astype(np.float64) for k, v in params.items()}
    hs64 = run(layer, x.astype(np.float64), as64, {k: v.astype(np.float64) for k, v in h0.items()})
    assert_close(hs, hs64, 1e-4, 1e-5, "float32 hs vs float64 hs")
    assert run(layer, x, as64, h0).dtype == np.float32, "float64 params must not promote float32 x"


@pytest.mark.parametrize("cls", CELLS)
def test_init_params(cls):
    layer = cls(input_size=3, hidden_size=16)
    params = layer.init_params(np.random.default_rng(0))
    G = {R.RNN: 1, R.LSTM: 4, R.GRU: 3}[cls] * 16
    biases = {"bx": (G,), "bh": (G,)} if cls is R.GRU else {"b": (G,)}
    assert {k: v.shape for k, v in params.items()} == {"Wx": (3, G), "Wh": (16, G), **biases}
    for k, v in params.items():
        assert v.dtype == np.float64 and np.abs(v).max() <= 0.25 and np.std(v) > 0.05, k


# --- Embedding, TemporalLinear ----------------------------------------------------------------

def test_embedding_gradcheck_repeated_indices():
    layer, rng = R.Embedding(num_embeddings=5, embedding_dim=3), np.random.default_rng(0)
    W = rng.standard_normal((5, 3))
    idx = np.array([[0, 2, 2, 4], [2, 0, 1, 2]])  # 2 four times, 0 twice, 3 never
    y, cache = layer.forward(idx, {"W": W})
    dy = rng.standard_normal(y.shape)
    dx, grads = layer.backward(dy, cache)
    assert dx is None and grads.keys() == {"W"}
    assert_close(y, W[idx], 0, 0, "y")
    assert_close(grads["W"], numerical_grad(lambda W_: layer.forward(idx, {"W": W_})[0], W, dy), 1e-6, 1e-8, "dW")
    assert not grads["W"][3].any(), "a row never read has zero gradient"


def test_embedding_vs_torch_and_dtype():
    torch = pytest.importorskip("torch")
    layer, rng = R.Embedding(num_embeddings=7, embedding_dim=4), np.random.default_rng(0)
    idx = rng.integers(0, 7, (3, 9))
    for dtype, tdtype, tol in [(np.float64, torch.float64, 1e-12), (np.float32, torch.float32, 1e-6)]:
        W = rng.standard_normal((7, 4)).astype(dtype)
        y, cache = layer.forward(idx, {"W": W})
        dy = rng.standard_normal(y.shape).astype(dtype)
        dW = layer.backward(dy, cache)[1]["W"]
        Wt = torch.tensor(W, requires_grad=True)
        torch.nn.functional.embedding(torch.tensor(idx), Wt).backward(torch.tensor(dy))
        assert y.dtype == dW.dtype == dtype
        assert_close(dW, Wt.grad.numpy(), tol, tol, f"dW {np.dtype(dtype)}")
    params = layer.init_params(np.random.default_rng(0))
    big = R.Embedding(num_embeddings=200, embedding_dim=50).init_params(np.random.default_rng(0))["W"]
    assert params["W"].shape == (7, 4) and params["W"].dtype == np.float64
    assert abs(big.mean()) < 0.05 and abs(big.std() - 1) < 0.05, "Embedding init is N(0, 1)"


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 3, 4, 5)], ids=["1x1x1-1", "2x3x4-5"])
def test_temporal_linear(shape):
    N, T, D, M = shape
    layer, rng = R.TemporalLinear(in_features=D, out_features=M), np.random.default_rng(0)
    x, W, b = rng.standard_normal((N, T, D)), rng.standard_normal((D, M)), rng.standard_normal(M)
    y, cache = layer.forward(x, {"W": W, "b": b})
    dy = rng.standard_normal(y.shape)
    dx, grads = layer.backward(dy, cache)
    assert_close(y, np.einsum("ntd,dm->ntm", x, W) + b, 1e-12, 1e-12, "y")
    assert_close(dx, numerical_grad(lambda x_: layer.forward(x_, {"W": W, "b": b})[0], x, dy), 1e-6, 1e-8, "dx")
    assert_close(grads["W"], numerical_grad(lambda W_: layer.forward(x, {"W": W_, "b": b})[0], W, dy), 1e-6, 1e-8, "dW")
    assert_close(grads["b"], numerical_grad(lambda b_: layer.forward(x, {"W": W, "b": b_})[0], b, dy), 1e-6, 1e-8, "db")
    y32, cache = layer.forward(x.astype(np.float32), {"W": W.astype(np.float32), "b": b.astype(np.float32)})
    dx32, g32 = layer.backward(dy.astype(np.float32), cache)
    assert {a.dtype for a in (y32, dx32, *g32.values())} == {np.dtype(np.float32)}


# --- TemporalCrossEntropyLoss --------------------------------------------------------------------

def masked_case(seed=0, N=3, T=4, V=5, ignore=-1):
    rng = np.random.default_rng(seed)
    scores = 2 * rng.standard_normal((N, T, V))
    targets = rng.integers(0, V, (N, T))
    targets[0, -2:] = ignore  # padding at the end of a sequence
    targets[2, 0] = ignore
    return scores, targets


def test_cross_entropy_gradcheck_with_mask():
    loss_fn = R.TemporalCrossEntropyLoss()
    scores, targets = masked_case()
    loss, cache = loss_fn.forward(scores, targets)
    d = loss_fn.backward(cache)
    mask = targets != -1
    logp = scores - np.logaddexp.reduce(scores, axis=-1, keepdims=True)
    expected = -np.take_along_axis(logp, np.where(mask, targets, 0)[..., None], -1)[..., 0][mask].mean()
    assert loss.shape == () and loss.dtype == np.float64
    assert_close(loss, expected, 1e-12, 1e-12, "loss (mean over unmasked positions)")
    assert_close(d, numerical_grad(lambda s: loss_fn.forward(s, targets)[0], scores, 1.0), 1e-6, 1e-9, "dscores")
    assert not d[~mask].any(), "masked positions must get exactly zero gradient"
    changed = scores.copy()
    changed[~mask] = 1e4 * np.random.default_rng(9).standard_normal(changed[~mask].shape)
    assert_close(loss_fn.forward(changed, targets)[0], loss, 1e-14, 0, "loss with masked scores changed")


@pytest.mark.parametrize("ignore", [-1, 0], ids=["ignore-1", "ignore0"])
def test_cross_entropy_vs_torch(ignore):
    torch = pytest.importorskip("torch")
    loss_fn = R.TemporalCrossEntropyLoss(ignore_index=ignore)
    scores, targets = masked_case(ignore=ignore, V=6)
    loss, cache = loss_fn.forward(scores, targets)
    d = loss_fn.backward(cache)
    st = torch.tensor(scores, requires_grad=True)
    lt = torch.nn.functional.cross_entropy(st.reshape(-1, 6), torch.tensor(targets).reshape(-1), ignore_index=ignore)
    lt.backward()
    assert_close(loss, lt.item(), 1e-12, 1e-14, "loss")
    assert_close(d, st.grad.numpy(), 1e-12, 1e-14, "dscores")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_cross_entropy_dtype_stability_and_all_masked(dtype):
    loss_fn = R.TemporalCrossEntropyLoss()
    scores, targets = masked_case()
    scores = (scores * 1000).astype(dtype)
    scores0 = scores.copy()
    with no_fp_warnings():
        loss, cache = loss_fn.forward(scores, targets)
        d = loss_fn.backward(cache)
    assert loss.dtype == d.dtype == dtype and np.isfinite(loss) and np.isfinite(d).all()
    assert np.array_equal(scores, scores0)
    loss, cache = loss_fn.forward(scores, np.full(targets.shape, -1))
    assert loss == 0 and not loss_fn.backward(cache).any(), "all positions masked: loss 0, gradient 0"


# --- hyperparameters, GPU -----------------------------------------------------------------------

@pytest.mark.parametrize("cls", list(R.LAYERS.values()), ids=lambda c: c.__name__)
def test_hyperparameters_keyword_only_and_serialisable(cls):
    signature = inspect.signature(cls)
    assert all(p.kind is p.KEYWORD_ONLY for p in signature.parameters.values()), signature
    layer = cls(**{name: 3 for name in signature.parameters})
    config = json.loads(json.dumps(layer.config()))
    assert config.pop("type") == cls.__name__ and R.LAYERS[cls.__name__](**config).config() == layer.config()
    assert all(p.kind is p.KEYWORD_ONLY for p in inspect.signature(R.TemporalCrossEntropyLoss).parameters.values())


GPU = [pytest.mark.gpu, pytest.mark.skipif(not cupy_available(), reason="needs CuPy and a CUDA device")]


@pytest.mark.parametrize("module", [pytest.param("cupy", marks=GPU)])
@pytest.mark.parametrize("cls", CELLS)
def test_array_module_matches_numpy(module, cls):
    xp = pytest.importorskip(module)
    layer, x, params, h0 = make(cls, (2, 4, 3, 5))
    hs, cache = layer.forward(x, params, state=dict(h0))
    dhs = np.random.default_rng(1).standard_normal(hs.shape)
    dx, grads = layer.backward(dhs, cache)
    state = {k: xp.asarray(v) for k, v in h0.items()}
    hs_, cache = layer.forward(xp.asarray(x), {k: xp.asarray(v) for k, v in params.items()}, state=state)
    dx_, grads_ = layer.backward(xp.asarray(dhs), cache)
    assert_close(xp.asnumpy(hs_), hs, 1e-10, 1e-12, "hs")
    assert_close(xp.asnumpy(dx_), dx, 1e-10, 1e-12, "dx")
    for k in grads:
        assert_close(xp.asnumpy(grads_[k]), grads[k], 1e-10, 1e-12, f"d{k}")
    emb = R.Embedding(num_embeddings=4, embedding_dim=3)
    idx, W = np.array([[0, 3, 3], [1, 3, 0]]), np.random.default_rng(2).standard_normal((4, 3))
    dW = emb.backward(dhs[:, :3, :3], emb.forward(idx, {"W": W})[1])[1]["W"]
    dW_ = emb.backward(xp.asarray(dhs[:, :3, :3]), emb.forward(xp.asarray(idx), {"W": xp.asarray(W)})[1])[1]["W"]
    assert_close(xp.asnumpy(dW_), dW, 1e-12, 1e-14, "Embedding dW")
    loss_fn, (scores, targets) = R.TemporalCrossEntropyLoss(), masked_case()
    loss, c = loss_fn.forward(scores, targets)
    loss_, c_ = loss_fn.forward(xp.asarray(scores), xp.asarray(targets))
    assert_close(xp.asnumpy(loss_), loss, 1e-12, 1e-14, "loss")
    assert_close(xp.asnumpy(loss_fn.backward(c_)), loss_fn.backward(c), 1e-12, 1e-14, "dscores")
