"""Every reference implementation runs unchanged on CuPy arrays and gives NumPy's results.

Parametrised over the array module (tests/devices.py): numpy, the CPU stand-in for CuPy
(always; it refuses what real CuPy refuses) and real CuPy (marked `gpu`, skipped without a GPU).
Each case runs on NumPy inputs, then on the same inputs moved to the module; every output must
be an array of that module (nothing silently came back to the host), keep NumPy's dtype and
match NumPy's values; inputs are not modified. The gradient checks and PyTorch comparisons in
the other files validate the NumPy results. Random numbers come from a NumPy Generator on the
host in both runs (the contract, docs/contracts.md), so Dropout's masks and sampling agree.
"""
import copy

import numpy as np
import pytest

from reference import init, optim as O, rnn as R
from reference import layers as L
from reference.backend import get_array_module
from reference.text import clip_grad_norm, sample_next
from reference.word2vec import keep_probability, sgns_loss
from tests.devices import ARRAY_MODULES, DEVICE_MODULES, to_device, to_host

from . import test_autoencoder as autoencoder_cases, test_conv as conv_cases, test_layers as layer_cases
from . import test_losses as loss_cases
from . import test_optim as optim_cases, test_word2vec as word2vec_cases
from .helpers import assert_close, make_inputs

DTYPES = pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
TOL = {np.dtype(np.float32): (1e-5, 1e-6), np.dtype(np.float64): (1e-10, 1e-12)}


def same(xp, fn, *args):
    """Run fn on NumPy args and on their device copies; return (host result, device result on
    the host), after checking that the device run returns device arrays and leaves its inputs
    as they were."""
    expected = fn(*copy.deepcopy(args))
    device_args = to_device(xp, args)
    given = _leaves(device_args)  # the arrays themselves: a state dict's entries may be replaced
    before = [to_host(xp, a, "input").copy() for a in given]
    got = to_host(xp, fn(*device_args))
    for a, b in zip(given, before):
        assert np.array_equal(to_host(xp, a, "input"), b), "an input array was modified"
    return expected, got


def _leaves(tree):
    if isinstance(tree, dict):
        return [x for v in tree.values() for x in _leaves(v)]
    if isinstance(tree, (list, tuple)):
        return [x for v in tree for x in _leaves(v)]
    return [] if tree is None or isinstance(tree, (bool, int, float)) else [tree]


def assert_trees(got, expected, rtol, atol, name="out"):
    if isinstance(expected, dict):
        assert got.keys() == expected.keys(), f"{name}: keys {sorted(got)} != {sorted(expected)}"
        for k in expected:
            assert_trees(got[k], expected[k], rtol, atol, f"{name}[{k!r}]")
    elif isinstance(expected, (list, tuple)):
        assert len(got) == len(expected), f"{name}: {len(got)} entries, expected {len(expected)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            assert_trees(g, e, rtol, atol, f"{name}[{i}]")
    elif expected is None or isinstance(expected, (bool, int, float)):
        assert got == expected, f"{name}: {got!r} != {expected!r}"
    else:
        assert got.dtype == np.asarray(expected).dtype, f"{name}: dtype {got.dtype}, expected {np.asarray(expected).dtype}"
        assert_close(got, expected, rtol, atol, name)


def layer_step(layer, train):
    """forward (fresh host rng, own state) then backward with a fixed upstream gradient."""
    def run(x, params, state, dy_seed):
        y, cache = layer.forward(x, params, train=train, rng=np.random.default_rng(7), state=state)
        dy = _like(y, np.random.default_rng(dy_seed).standard_normal(y.shape).astype(y.dtype))
        dx, grads = layer.backward(dy, cache)
        return {"y": y, "dx": dx, "grads": grads, "state": state}
    return run


def _like(a, host):
    """`host` (a NumPy array) moved to the module of `a`."""
    return get_array_module(a).asarray(host)


LAYER_CASES = [c for c in layer_cases.CASES] + [c for c in conv_cases.CASES] + [
    pytest.param(*c.values[:2], False, c.values[2], id=c.id) for c in autoencoder_cases.CASES]


@ARRAY_MODULES
@DTYPES
@pytest.mark.parametrize("layer, shape, train, torch_fn", LAYER_CASES)
def test_layer(xp, layer, shape, train, torch_fn, dtype):
    x, params, state = make_inputs(layer, shape, dtype=dtype)
    expected, got = same(xp, layer_step(layer, train), x, params, state, 1)
    assert_trees(got, expected, *TOL[np.dtype(dtype)])


@ARRAY_MODULES
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_sequential(xp, train):
    net, rng = layer_cases.mlp(), np.random.default_rng(0)
    x = rng.standard_normal((6, 5))
    params = [{k: rng.standard_normal(v.shape) for k, v in p.items()} for p in net.init_params(rng)]
    expected, got = same(xp, layer_step(net, train), x, params, net.init_state(), 2)
    assert_trees(got, expected, *TOL[np.dtype(np.float64)])


@ARRAY_MODULES
@DTYPES
@pytest.mark.parametrize("loss, shape, make_scores, make_target, torch_fn", loss_cases.CASES)
def test_loss(xp, loss, shape, make_scores, make_target, torch_fn, dtype):
    scores, target = loss_cases.make_inputs(shape, make_scores, make_target, dtype=dtype)

    def run(scores, target):
        value, cache = loss.forward(scores, target)
        return {"loss": value, "dscores": loss.backward(cache)}
    expected, got = same(xp, run, scores, target)
    assert_trees(got, expected, *TOL[np.dtype(dtype)])


@ARRAY_MODULES
@DTYPES
@optim_cases.BY_NAME
def test_optimizer(xp, ours, theirs, dtype):
    opt = ours(0.1)
    params, grads = optim_cases.make_problem(steps=4, dtype=dtype)

    def run(params, grads):
        state, trajectory = opt.init_state(params), []
        for g in grads:
            params, state = opt.step(params, g, state)
            trajectory.append({"params": params, "state": state})
        return trajectory
    expected, got = same(xp, run, params, grads)
    assert_trees(got, expected, *TOL[np.dtype(dtype)])


CELLS = [pytest.param(R.RNN, id="rnn"), pytest.param(R.LSTM, id="lstm"), pytest.param(R.GRU, id="gru")]


@ARRAY_MODULES
@DTYPES
@pytest.mark.parametrize("cls", CELLS)
def test_recurrent(xp, cls, dtype):
    N, T, D, H = 3, 4, 2, 5
    layer, rng = cls(input_size=D, hidden_size=H), np.random.default_rng(0)
    params = {k: rng.standard_normal(v.shape).astype(dtype) for k, v in layer.init_params(rng).items()}
    x = rng.standard_normal((N, T, D)).astype(dtype)
    h0 = {k: rng.standard_normal((N, H)).astype(dtype) for k in layer.carry}
    dhs = rng.standard_normal((N, T, H)).astype(dtype)
    dh_next = tuple(rng.standard_normal((N, H)).astype(dtype) for _ in layer.carry)

    def run(x, params, h0, dhs, dh_next):
        state = dict(h0)
        hs, cache = layer.forward(x, params, state=state)
        dx, grads = layer.backward(dhs, cache)
        carry = layer._pack(tuple(h0[k] for k in layer.carry))
        h_next, step_cache = layer.step(x[:, 0], carry, params)
        step_dx, dh, step_grads = layer.step_backward(layer._pack(dh_next), step_cache)
        return {"hs": hs, "dx": dx, "grads": grads, "state": state, "h_next": h_next,
                "step_dx": step_dx, "dh": dh, "step_grads": step_grads}
    expected, got = same(xp, run, x, params, h0, dhs, dh_next)
    assert_trees(got, expected, *TOL[np.dtype(dtype)])


@ARRAY_MODULES
def test_embedding_temporal_linear_and_loss(xp):
    rng = np.random.default_rng(0)
    emb, lin, ce = R.Embedding(num_embeddings=5, embedding_dim=3), R.TemporalLinear(in_features=3, out_features=4), \
        R.TemporalCrossEntropyLoss()
    idx = np.array([[0, 2, 2, 4], [2, 0, 1, 2]])
    targets = rng.integers(0, 4, idx.shape)
    targets[0, -1] = -1
    params = {"E": rng.standard_normal((5, 3)), "W": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}

    def run(idx, targets, params):
        e, e_cache = emb.forward(idx, {"W": params["E"]})
        s, s_cache = lin.forward(e, {"W": params["W"], "b": params["b"]})
        loss, cache = ce.forward(s, targets)
        ds = ce.backward(cache)
        de, lin_grads = lin.backward(ds, s_cache)
        return {"loss": loss, "ds": ds, "de": de, "lin": lin_grads, "emb": emb.backward(de, e_cache)[1]}
    expected, got = same(xp, run, idx, targets, params)
    assert_trees(got, expected, *TOL[np.dtype(np.float64)])


@ARRAY_MODULES
def test_text(xp):
    grads = {"W": 10 * np.random.default_rng(0).standard_normal((3, 4)), "c": np.asarray(3.0)}
    logits = np.random.default_rng(1).standard_normal((50, 7))

    def run(grads, logits):
        clipped, total = clip_grad_norm(grads, 1.0)
        return {"clipped": clipped, "total": total,
                **{f"T{t}-k{k}": sample_next(logits, rng=np.random.default_rng(3), temperature=t, top_k=k)
                   for t, k in [(1.0, None), (0.5, 3), (0.0, None)]}}
    expected, got = same(xp, run, grads, logits)
    assert_trees(got, expected, *TOL[np.dtype(np.float64)])


@ARRAY_MODULES
@DTYPES
def test_sgns_and_subsampling(xp, dtype):
    center, context, negatives, params = word2vec_cases.batch(dtype=dtype)
    counts = np.array([0, 5, 1000, 3, 40], dtype=np.int64)

    def run(center, context, negatives, params, counts):
        loss, grads = sgns_loss(center, context, negatives, params)
        return {"loss": loss, "grads": grads, "keep": keep_probability(counts, t=1e-2)}
    expected, got = same(xp, run, center, context, negatives, params, counts)
    assert_trees(got, expected, *TOL[np.dtype(dtype)])


@DEVICE_MODULES
@DTYPES
def test_initialisers_follow_a_device_generator(xp, dtype):
    """A CuPy Generator gives CuPy weights (its numbers differ from NumPy's: only shape, dtype
    and module are compared)."""
    for fn in (init.xavier_uniform, init.he_normal):
        w = fn(3, 7, rng=xp.random.default_rng(0), dtype=dtype)
        assert type(w) is xp.ndarray and w.shape == (3, 7) and w.dtype == dtype
    rng = xp.random.default_rng(0)
    for layer in (L.Linear(in_features=3, out_features=2), L.BatchNorm1d(num_features=3),
                  conv_cases.conv(2, 3, 3), R.LSTM(input_size=2, hidden_size=3), R.Embedding(num_embeddings=4, embedding_dim=2)):
        params = layer.init_params(rng)
        assert params and all(type(v) is xp.ndarray for v in params.values()), (layer, params)
