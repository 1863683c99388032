"""reference/layers.py: gradient checks, PyTorch agreement, dtypes, purity, stability, behaviour."""
import copy
import inspect
import json

import numpy as np
import pytest

from reference import layers as L

from .helpers import assert_close, no_fp_warnings, make_inputs, numerical_grad, run


def case(name, layer, shape, torch_fn=None, train=False):
    """One layer test case; torch_fn(F, x, **params, **state) mirrors the layer with torch tensors."""
    return pytest.param(layer, shape, train, torch_fn, id=f"{name}-{'x'.join(map(str, shape))}")


def bn_train(F, x, gamma, beta, **state):
    return F.batch_norm(x, None, None, gamma, beta, training=True, eps=1e-3)


def bn_eval(F, x, gamma, beta, running_mean, running_var):
    return F.batch_norm(x, running_mean, running_var, gamma, beta, training=False, eps=1e-3)


CASES = [
    case("linear", L.Linear(in_features=1, out_features=1), (1, 1), lambda F, x, W, b: F.linear(x, W.T, b)),
    case("linear", L.Linear(in_features=3, out_features=4), (1, 3), lambda F, x, W, b: F.linear(x, W.T, b)),
    case("linear", L.Linear(in_features=7, out_features=3), (5, 7), lambda F, x, W, b: F.linear(x, W.T, b)),
    case("sigmoid", L.Sigmoid(), (1,), lambda F, x: x.sigmoid()),
    case("sigmoid", L.Sigmoid(), (2, 3, 5), lambda F, x: x.sigmoid()),
    case("tanh", L.Tanh(), (1, 1), lambda F, x: x.tanh()),
    case("tanh", L.Tanh(), (3, 5), lambda F, x: x.tanh()),
    case("relu", L.ReLU(), (1, 3), lambda F, x: F.relu(x)),
    case("relu", L.ReLU(), (2, 3, 5), lambda F, x: F.relu(x)),
    case("leaky_relu", L.LeakyReLU(), (4, 5), lambda F, x: F.leaky_relu(x)),
    case("leaky_relu-0.3", L.LeakyReLU(negative_slope=0.3), (1, 7), lambda F, x: F.leaky_relu(x, 0.3)),
    case("elu", L.ELU(), (3, 5), lambda F, x: F.elu(x)),
    case("elu-0.7", L.ELU(alpha=0.7), (1, 2, 3), lambda F, x: F.elu(x, alpha=0.7)),
    case("softplus", L.Softplus(), (3, 5), lambda F, x: F.softplus(x)),
    case("softplus-2", L.Softplus(beta=2.0), (1, 3), lambda F, x: F.softplus(x, beta=2.0)),
    case("softmax", L.Softmax(), (1, 1), lambda F, x: F.softmax(x, dim=-1)),
    case("softmax", L.Softmax(), (4, 7), lambda F, x: F.softmax(x, dim=-1)),
    case("softmax", L.Softmax(), (2, 3, 5), lambda F, x: F.softmax(x, dim=-1)),
    case("log_softmax", L.LogSoftmax(), (1, 1), lambda F, x: F.log_softmax(x, dim=-1)),
    case("log_softmax", L.LogSoftmax(), (4, 7), lambda F, x: F.log_softmax(x, dim=-1)),
    case("log_softmax", L.LogSoftmax(), (2, 3, 5), lambda F, x: F.log_softmax(x, dim=-1)),
    case("dropout-eval", L.Dropout(p=0.5), (3, 5), lambda F, x: x.clone()),
    case("dropout-train", L.Dropout(p=0.3), (4, 5), train=True),
    case("batchnorm-train", L.BatchNorm1d(num_features=1, eps=1e-3), (2, 1), bn_train, train=True),
    case("batchnorm-train", L.BatchNorm1d(num_features=5, eps=1e-3), (7, 5), bn_train, train=True),
    case("batchnorm-eval", L.BatchNorm1d(num_features=3, eps=1e-3), (1, 3), bn_eval),
    case("batchnorm-eval", L.BatchNorm1d(num_features=5, eps=1e-3), (4, 5), bn_eval),
    case("flatten", L.Flatten(), (1, 2), lambda F, x: x.reshape(x.shape[0], -1)),
    case("flatten", L.Flatten(), (3, 2, 1, 4), lambda F, x: x.reshape(x.shape[0], -1)),
]


@pytest.mark.parametrize("layer, shape, train, torch_fn", CASES)
def test_gradcheck(layer, shape, train, torch_fn):
    x, params, state = make_inputs(layer, shape)
    y, cache = run(layer, x, params, state, train)
    dy = np.random.default_rng(1).standard_normal(y.shape)
    dx, grads = layer.backward(dy, cache)
    assert grads.keys() == params.keys()
    assert_close(dx, numerical_grad(lambda x_: run(layer, x_, params, state, train)[0], x, dy), 1e-5, 1e-7, "dx")
    for k, p in params.items():
        f = lambda p_: run(layer, x, {**params, k: p_}, state, train)[0]  # noqa: E731
        assert_close(grads[k], numerical_grad(f, p, dy), 1e-5, 1e-7, f"d{k}")


@pytest.mark.parametrize("layer, shape, train, torch_fn", [c for c in CASES if c.values[3] is not None])
def test_vs_torch(layer, shape, train, torch_fn):
    torch = pytest.importorskip("torch")
    x, params, state = make_inputs(layer, shape)
    y, cache = run(layer, x, params, state, train)
    dy = np.random.default_rng(1).standard_normal(y.shape)
    dx, grads = layer.backward(dy, cache)
    xt = torch.tensor(x, requires_grad=True)
    pt = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    yt = torch_fn(torch.nn.functional, xt, **pt, **{k: torch.tensor(v) for k, v in state.items()})
    yt.backward(torch.tensor(dy))
    assert_close(y, yt.detach().numpy(), 1e-10, 1e-12, "y")
    assert_close(dx, xt.grad.numpy(), 1e-10, 1e-12, "dx")
    for k in params:
        assert_close(grads[k], pt[k].grad.numpy(), 1e-10, 1e-12, f"d{k}")


@pytest.mark.parametrize("layer, shape, train, torch_fn", CASES)
def test_float32_in_float32_out(layer, shape, train, torch_fn):
    x, params, state = make_inputs(layer, shape, dtype=np.float32)
    y, cache = run(layer, x, params, state, train)
    dx, grads = layer.backward(np.ones_like(y), cache)
    assert (y.dtype, dx.dtype) == (np.float32, np.float32)
    assert all(g.dtype == np.float32 for g in grads.values()), {k: g.dtype for k, g in grads.items()}
    y64, _ = run(layer, x.astype(np.float64), {k: v.astype(np.float64) for k, v in params.items()}, state, train)
    assert_close(y, y64, 1e-4, 1e-5, "float32 y vs float64 y")


@pytest.mark.parametrize("layer, shape, train, torch_fn", CASES)
def test_inputs_not_modified(layer, shape, train, torch_fn):
    x, params, state = make_inputs(layer, shape)
    x0, params0, state_arrays = x.copy(), copy.deepcopy(params), dict(state)
    state0 = copy.deepcopy(state)
    y, cache = layer.forward(x, params, train=train, rng=np.random.default_rng(7), state=state)
    dy = np.random.default_rng(1).standard_normal(y.shape)
    dy0 = dy.copy()
    layer.backward(dy, cache)
    assert np.array_equal(x, x0) and np.array_equal(dy, dy0)
    assert all(np.array_equal(params[k], params0[k]) for k in params)
    assert all(np.array_equal(state_arrays[k], state0[k]) for k in state)  # replaced, never written into


@pytest.mark.parametrize("layer, slope_at_0", [
    pytest.param(L.ReLU(), 0.0, id="relu"),
    pytest.param(L.LeakyReLU(negative_slope=0.2), 0.2, id="leaky_relu"),
    pytest.param(L.ELU(alpha=0.7), 0.7, id="elu"),
])
def test_derivative_at_zero_takes_left_branch(layer, slope_at_0):
    x = np.zeros((2, 3))
    dy = np.random.default_rng(0).standard_normal(x.shape)
    y, cache = layer.forward(x, {})
    dx, _ = layer.backward(dy, cache)
    assert_close(y, np.zeros_like(x), 0, 0, "y at 0")
    assert_close(dx, slope_at_0 * dy, 1e-15, 0, "dx at 0")


# Stability: logits of magnitude 1000 must give finite, correct values without overflow warnings.
BIG = [[1000.0, 1000.0, -1000.0], [-1000.0, 0.0, 1000.0]]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("layer, expected", [  # expected values from NumPy's own stable routines
    pytest.param(L.Sigmoid(), lambda x: np.exp(-np.logaddexp(0, -x)), id="sigmoid"),
    pytest.param(L.Tanh(), np.tanh, id="tanh"),
    pytest.param(L.Softplus(), lambda x: np.logaddexp(0, x), id="softplus"),
    pytest.param(L.Softplus(beta=0.5), lambda x: np.logaddexp(0, 0.5 * x) / 0.5, id="softplus-0.5"),
    pytest.param(L.ELU(), lambda x: np.where(x > 0, x, -1.0 + (x == 0)), id="elu"),
    pytest.param(L.Softmax(), lambda x: np.exp(x - np.logaddexp.reduce(x, axis=-1, keepdims=True)), id="softmax"),
    pytest.param(L.LogSoftmax(), lambda x: x - np.logaddexp.reduce(x, axis=-1, keepdims=True), id="log_softmax"),
])
def test_stable_for_large_inputs(layer, expected, dtype):
    x = np.array(BIG, dtype=dtype)
    with no_fp_warnings():
        y, cache = layer.forward(x, {})
        dx, _ = layer.backward(np.ones_like(y), cache)
    assert y.dtype == dtype and np.isfinite(y).all() and np.isfinite(dx).all()
    assert_close(y, expected(x.astype(np.float64)), 1e-6, 1e-6, "y")


def test_dropout_train_behaviour():
    p, layer = 0.3, L.Dropout(p=0.3)
    x = np.random.default_rng(0).uniform(1, 2, (200, 500)).astype(np.float32)
    y, cache = layer.forward(x, {}, train=True, rng=np.random.default_rng(1))
    kept = y != 0
    assert abs(kept.mean() - (1 - p)) < 0.01, f"kept fraction {kept.mean():.4f}, expected {1 - p}"
    assert_close(y[kept], x[kept] / (1 - p), 1e-6, 0, "kept values scaled by 1/(1-p)")
    dy = np.random.default_rng(2).standard_normal(x.shape).astype(np.float32)
    dx, _ = layer.backward(dy, cache)
    assert dx.dtype == np.float32
    assert_close(dx, np.where(kept, dy / (1 - p), 0), 1e-6, 0, "dx uses the forward mask and scale")
    y2, _ = layer.forward(x, {}, train=True, rng=np.random.default_rng(3))
    assert not np.array_equal(y2 != 0, kept), "a fresh rng should draw a fresh mask"


@pytest.mark.parametrize("p, train", [(0.5, False), (0.0, True), (0.9, False)], ids=["eval", "p0-train", "p0.9-eval"])
def test_dropout_identity(p, train):
    x = np.random.default_rng(0).standard_normal((3, 4))
    dy = np.random.default_rng(1).standard_normal((3, 4))
    layer = L.Dropout(p=p)
    y, cache = layer.forward(x, {}, train=train, rng=np.random.default_rng(1))
    assert np.array_equal(y, x) and np.array_equal(layer.backward(dy, cache)[0], dy)


def test_dropout_p1_drops_everything():
    y, cache = L.Dropout(p=1.0).forward(np.ones((2, 3)), {}, train=True, rng=np.random.default_rng(0))
    assert not y.any() and np.isfinite(y).all()


def test_batchnorm_running_stats_vs_torch():
    torch = pytest.importorskip("torch")
    layer = L.BatchNorm1d(num_features=4, eps=1e-4, momentum=0.2)
    tbn = torch.nn.BatchNorm1d(4, eps=1e-4, momentum=0.2, dtype=torch.float64)
    rng = np.random.default_rng(0)
    params = {"gamma": rng.standard_normal(4), "beta": rng.standard_normal(4)}
    with torch.no_grad():
        tbn.weight.copy_(torch.tensor(params["gamma"]))
        tbn.bias.copy_(torch.tensor(params["beta"]))
    state = layer.init_state()
    for step, n in enumerate([6, 3, 2]):
        x = rng.normal(3.0, 2.0, (n, 4))
        y, _ = layer.forward(x, params, train=True, state=state)
        assert_close(y, tbn.train()(torch.tensor(x)).detach().numpy(), 1e-10, 1e-12, f"train y, step {step}")
        assert_close(state["running_mean"], tbn.running_mean.numpy(), 1e-12, 1e-14, f"running_mean, step {step}")
        assert_close(state["running_var"], tbn.running_var.numpy(), 1e-12, 1e-14, f"running_var, step {step}")
    before = copy.deepcopy(state)
    x = rng.normal(3.0, 2.0, (5, 4))
    y, _ = layer.forward(x, params, train=False, state=state)
    assert_close(y, tbn.eval()(torch.tensor(x)).detach().numpy(), 1e-10, 1e-12, "eval y")
    assert all(np.array_equal(state[k], before[k]) for k in state), "eval changed the running statistics"


def test_batchnorm_state_and_errors():
    layer = L.BatchNorm1d(num_features=3)
    state = layer.init_state()
    assert_close(state["running_mean"], np.zeros(3), 0, 0, "initial running_mean")
    assert_close(state["running_var"], np.ones(3), 0, 0, "initial running_var")
    params = layer.init_params(np.random.default_rng(0))
    assert_close(params["gamma"], np.ones(3), 0, 0, "gamma")
    assert_close(params["beta"], np.zeros(3), 0, 0, "beta")
    with pytest.raises(ValueError):
        layer.forward(np.ones((1, 3)), params, train=True, state=state)
    with pytest.raises(ValueError):
        layer.forward(np.ones((2, 3)), params, train=False, state=None)


@pytest.mark.parametrize("x_dtype, state_dtype", [(np.float32, np.float64), (np.float64, np.float32)],
                         ids=["x32-state64", "x64-state32"])
def test_batchnorm_mixed_dtypes(x_dtype, state_dtype):
    """Outputs follow x; running statistics keep their own dtype."""
    layer, rng = L.BatchNorm1d(num_features=3), np.random.default_rng(0)
    params = {k: v.astype(x_dtype) for k, v in layer.init_params(rng).items()}
    state = {k: v.astype(state_dtype) for k, v in layer.init_state().items()}
    x = rng.standard_normal((4, 3)).astype(x_dtype)
    for train in (True, False):
        y, cache = layer.forward(x, params, train=train, state=state)
        dx, grads = layer.backward(np.ones_like(y), cache)
        assert y.dtype == dx.dtype == x_dtype and {g.dtype for g in grads.values()} == {np.dtype(x_dtype)}
        assert {v.dtype for v in state.values()} == {np.dtype(state_dtype)}, "running statistics changed dtype"


def mlp():
    return L.Sequential(layers=[
        L.Linear(in_features=5, out_features=4), L.BatchNorm1d(num_features=4), L.ReLU(),
        L.Dropout(p=0.25), L.Linear(in_features=4, out_features=3), L.LogSoftmax()])


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_sequential_gradcheck(train):
    net, rng = mlp(), np.random.default_rng(0)
    x = rng.standard_normal((3, 5))
    params = [{k: rng.standard_normal(v.shape) for k, v in p.items()} for p in net.init_params(rng)]
    state = net.init_state()
    y, cache = run(net, x, params, state, train)
    dy = rng.standard_normal(y.shape)
    dx, grads = net.backward(dy, cache)
    assert [g.keys() for g in grads] == [p.keys() for p in params]
    assert_close(dx, numerical_grad(lambda x_: run(net, x_, params, state, train)[0], x, dy), 1e-5, 1e-7, "dx")
    for i, k in [(i, k) for i, p in enumerate(params) for k in p]:
        def f(p_):
            return run(net, x, [{**p, k: p_} if j == i else p for j, p in enumerate(params)], state, train)[0]
        assert_close(grads[i][k], numerical_grad(f, params[i][k], dy), 1e-5, 1e-7, f"layer {i} d{k}")


def test_sequential_vs_torch_and_state():
    torch = pytest.importorskip("torch")
    F, net, rng = torch.nn.functional, mlp(), np.random.default_rng(0)
    net.layers[3] = L.Dropout(p=0.0)
    x = rng.standard_normal((6, 5))
    params, state = net.init_params(rng), net.init_state()
    y, cache = net.forward(x, params, train=True, rng=rng, state=state)
    dy = rng.standard_normal(y.shape)
    dx, grads = net.backward(dy, cache)
    xt = torch.tensor(x, requires_grad=True)
    pt = [{k: torch.tensor(v, requires_grad=True) for k, v in p.items()} for p in params]
    rm, rv = torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)
    h = F.batch_norm(F.linear(xt, pt[0]["W"].T, pt[0]["b"]), rm, rv, pt[1]["gamma"], pt[1]["beta"], training=True)
    yt = F.log_softmax(F.linear(F.relu(h), pt[4]["W"].T, pt[4]["b"]), dim=-1)
    yt.backward(torch.tensor(dy))
    assert_close(y, yt.detach().numpy(), 1e-10, 1e-12, "y")
    assert_close(dx, xt.grad.numpy(), 1e-10, 1e-12, "dx")
    for i, p in enumerate(pt):
        for k, v in p.items():
            assert_close(grads[i][k], v.grad.numpy(), 1e-10, 1e-12, f"layer {i} d{k}")
    assert_close(state[1]["running_mean"], rm.numpy(), 1e-12, 1e-14, "running_mean")
    assert_close(state[1]["running_var"], rv.numpy(), 1e-12, 1e-14, "running_var")


def test_config_round_trip():
    net = mlp()
    arch = json.dumps([layer.config() for layer in net.layers])
    rebuilt = L.from_config(arch)
    assert repr(rebuilt) == repr(net)
    assert L.from_config(net.config()).config() == net.config()
    assert L.from_config({"type": "LeakyReLU", "negative_slope": 0.2}).negative_slope == 0.2
    with pytest.raises(ValueError):
        L.from_config({"type": "Conv2d"})


def _every_layer_class():
    import importlib
    import pkgutil

    import reference
    modules = [importlib.import_module(f"reference.{m.name}") for m in pkgutil.iter_modules(reference.__path__)]
    return [cls for m in modules for cls in getattr(m, "LAYERS", {}).values()]


@pytest.mark.parametrize("cls", _every_layer_class(), ids=lambda c: f"{c.__module__}.{c.__name__}")
def test_every_reference_layer_takes_keyword_only_hyperparameters(cls):
    assert all(p.kind is p.KEYWORD_ONLY for p in inspect.signature(cls).parameters.values())


@pytest.mark.parametrize("cls", list(L.LAYERS.values()), ids=lambda c: c.__name__)
def test_hyperparameters_are_keyword_only_and_serialisable(cls):
    signature = inspect.signature(cls)
    assert all(p.kind is p.KEYWORD_ONLY for p in signature.parameters.values()), signature
    if cls is not L.Sequential:
        required = {"Linear": dict(in_features=2, out_features=3), "BatchNorm1d": dict(num_features=2)}
        layer = cls(**required.get(cls.__name__, {}))
        assert L.from_config(json.loads(json.dumps(layer.config()))).config() == layer.config()
