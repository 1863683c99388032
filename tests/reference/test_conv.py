"""reference/conv.py: gradient checks, PyTorch agreement, max-pool ties, dtypes, purity, state."""
import copy
import json

import numpy as np
import pytest

from reference import conv as L

from .helpers import assert_close, make_inputs, numerical_grad, run


def torch_conv(F, layer, x, W, b):
    return F.conv2d(x, W, b, stride=layer.stride, padding=layer.padding)


def torch_maxpool(F, layer, x):
    return F.max_pool2d(x, layer.kernel_size, layer.stride)


def torch_avgpool(F, layer, x):
    return F.avg_pool2d(x, layer.kernel_size, layer.stride)


def torch_bn(F, layer, x, gamma, beta, running_mean=None, running_var=None, train=False):
    stats = (None, None) if train else (running_mean, running_var)
    return F.batch_norm(x, *stats, gamma, beta, training=train, eps=layer.eps)


def case(name, layer, shape, torch_fn, train=False):
    """One test case; torch_fn(F, layer, x, **params, **state) mirrors the layer in torch."""
    return pytest.param(layer, shape, train, torch_fn, id=f"{name}-{'x'.join(map(str, shape))}")


def conv(c, f, k, s=1, p=0):
    return L.Conv2d(in_channels=c, out_channels=f, kernel_size=k, stride=s, padding=p)


# Conv2d's paths: 1-3 input channels, per-sample patches and col2im in the phases of the input
# (the narrow path: "conv-..." with C <= 3); channels-last patches with col2im from 4 to 15 input
# channels or at stride > 1 ("conv-1x1", C = 4), otherwise the full correlation of dy with the
# flipped kernel ("conv-c16-...").
CONV = [
    case("conv-c16-3x3-p1", conv(16, 3, 3, 1, 1), (2, 16, 4, 5), torch_conv),
    case("conv-c16-3x3-p0", conv(16, 2, 3), (2, 16, 5, 4), torch_conv),
    case("conv-c16-2x3-p2-rect", conv(16, 2, (2, 3), 1, 2), (1, 16, 3, 4), torch_conv),
    case("conv-c16-1x1-p1", conv(16, 2, 1, 1, 1), (1, 16, 3, 2), torch_conv),
    case("conv-3x3-s1-p1", conv(3, 4, 3, 1, 1), (2, 3, 6, 5), torch_conv),
    case("conv-c1-3x3-p1", conv(1, 2, 3, 1, 1), (2, 1, 5, 6), torch_conv),
    case("conv-c4-3x3-s2-p1", conv(4, 3, 3, 2, 1), (2, 4, 7, 6), torch_conv),
    case("conv-1x1", conv(4, 3, 1), (2, 4, 3, 5), torch_conv),
    case("conv-5x5-s2-p2", conv(2, 3, 5, 2, 2), (2, 2, 9, 8), torch_conv),
    case("conv-3x3-s3-odd-batch1", conv(2, 2, 3, 3), (1, 2, 9, 7), torch_conv),
    case("conv-3x3-s2-leftover", conv(2, 3, 3, 2), (2, 2, 8, 6), torch_conv),
    case("conv-2x3-s2-p1-rect", conv(3, 2, (2, 3), 2, 1), (2, 3, 6, 7), torch_conv),
    case("conv-3x1-p2", conv(2, 2, (3, 1), 1, 2), (1, 2, 4, 3), torch_conv),
    case("conv-kernel-is-input", conv(2, 3, 3), (2, 2, 3, 3), torch_conv),
    case("conv-wide-3x3-p1", conv(2, 3, 3, 1, 1), (2, 2, 3, 17), torch_conv),
    case("conv-wide-2x3-p1-rect", conv(2, 2, (2, 3), 1, 1), (1, 2, 4, 18), torch_conv),
    case("conv-wide-5x5-s2-p2", conv(2, 2, 5, 2, 2), (1, 2, 5, 33), torch_conv),
]
POOL = [
    case("maxpool-2x2", L.MaxPool2d(kernel_size=2), (2, 3, 6, 6), torch_maxpool),
    case("maxpool-3x3-s1-overlap", L.MaxPool2d(kernel_size=3, stride=1), (2, 2, 5, 5), torch_maxpool),
    case("maxpool-3x3-s2-overlap-odd-batch1", L.MaxPool2d(kernel_size=3, stride=2), (1, 2, 7, 9), torch_maxpool),
    case("maxpool-2x3-rect", L.MaxPool2d(kernel_size=(2, 3)), (2, 2, 6, 7), torch_maxpool),
    case("maxpool-2x2-s3-gaps", L.MaxPool2d(kernel_size=2, stride=3), (1, 2, 7, 8), torch_maxpool),
    case("maxpool-1x1", L.MaxPool2d(kernel_size=1), (1, 2, 3, 4), torch_maxpool),
    case("avgpool-2x2", L.AvgPool2d(kernel_size=2), (2, 3, 6, 6), torch_avgpool),
    case("avgpool-3x3-s1-overlap", L.AvgPool2d(kernel_size=3, stride=1), (2, 2, 5, 5), torch_avgpool),
    case("avgpool-3x3-s2-overlap-odd-batch1", L.AvgPool2d(kernel_size=3, stride=2), (1, 2, 7, 9), torch_avgpool),
    case("avgpool-2x3-rect", L.AvgPool2d(kernel_size=(2, 3)), (2, 2, 6, 7), torch_avgpool),
]
BN = [
    case("batchnorm2d-train", L.BatchNorm2d(num_features=3, eps=1e-3), (2, 3, 4, 5),
         lambda *a, **k: torch_bn(*a, **k, train=True), train=True),
    case("batchnorm2d-train-batch1", L.BatchNorm2d(num_features=2, eps=1e-3), (1, 2, 3, 3),
         lambda *a, **k: torch_bn(*a, **k, train=True), train=True),
    case("batchnorm2d-eval", L.BatchNorm2d(num_features=3, eps=1e-3), (2, 3, 4, 5), torch_bn),
]
CASES = CONV + POOL + BN


def forward_backward(layer, x, params, state, train, seed=1):
    y, cache = run(layer, x, params, state, train)
    dy = np.random.default_rng(seed).standard_normal(y.shape).astype(x.dtype)
    return y, dy, *layer.backward(dy, cache)


@pytest.mark.parametrize("layer, shape, train, torch_fn", CASES)
def test_gradcheck(layer, shape, train, torch_fn):
    x, params, state = make_inputs(layer, shape)
    y, dy, dx, grads = forward_backward(layer, x, params, state, train)
    assert grads.keys() == params.keys()
    assert_close(dx, numerical_grad(lambda x_: run(layer, x_, params, state, train)[0], x, dy), 1e-5, 1e-7, "dx")
    for k, p in params.items():
        f = lambda p_: run(layer, x, {**params, k: p_}, state, train)[0]  # noqa: E731
        assert_close(grads[k], numerical_grad(f, p, dy), 1e-5, 1e-7, f"d{k}")


@pytest.mark.parametrize("layer, shape, train, torch_fn", CASES)
def test_vs_torch(layer, shape, train, torch_fn):
    torch = pytest.importorskip("torch")
    x, params, state = make_inputs(layer, shape)
    y, dy, dx, grads = forward_backward(layer, x, params, state, train)
    xt = torch.tensor(x, requires_grad=True)
    pt = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    yt = torch_fn(torch.nn.functional, layer, xt, **pt, **{k: torch.tensor(v) for k, v in state.items()})
    yt.backward(torch.tensor(dy))
    assert_close(y, yt.detach().numpy(), 1e-10, 1e-12, "y")
    assert_close(dx, xt.grad.numpy(), 1e-10, 1e-12, "dx")
    for k in params:
        assert_close(grads[k], pt[k].grad.numpy(), 1e-10, 1e-12, f"d{k}")


@pytest.mark.parametrize("shape, k, s, p", [
    pytest.param((4, 8, 32, 32), 3, 1, 1, id="8->16-32x32-3x3-p1"),
    pytest.param((2, 32, 32, 32), 3, 1, 1, id="32->16-32x32-3x3-p1"),
    pytest.param((4, 16, 8, 8), 3, 1, 1, id="16->16-8x8-3x3-p1"),
    pytest.param((4, 3, 32, 32), 5, 2, 2, id="3->16-32x32-5x5-s2-p2"),
])
def test_conv_float32_vs_torch_cifar_sized(shape, k, s, p):
    torch = pytest.importorskip("torch")
    layer = conv(shape[1], 16, k, s, p)
    x, params, state = make_inputs(layer, shape, dtype=np.float32)
    y, dy, dx, grads = forward_backward(layer, x, params, state, False)
    xt = torch.tensor(x, requires_grad=True)
    pt = {k_: torch.tensor(v, requires_grad=True) for k_, v in params.items()}
    yt = torch_conv(torch.nn.functional, layer, xt, **pt)
    yt.backward(torch.tensor(dy))
    assert (y.dtype, dx.dtype, grads["W"].dtype, grads["b"].dtype) == (np.float32,) * 4
    # NCHW arrays laid out C-contiguous or channels-last (N, H, W, C) in memory, never scattered.
    for a in (y, dx):
        assert a.flags.c_contiguous or a.transpose(0, 2, 3, 1).flags.c_contiguous
    assert_close(y, yt.detach().numpy(), 1e-4, 1e-4, "y")
    assert_close(dx, xt.grad.numpy(), 1e-4, 1e-4, "dx")
    for k_ in params:
        assert_close(grads[k_], pt[k_].grad.numpy(), 1e-4, 1e-3, f"d{k_}")


@pytest.mark.parametrize("layer, shape, train, torch_fn", CASES)
def test_float32_in_float32_out(layer, shape, train, torch_fn):
    x, params, state = make_inputs(layer, shape, dtype=np.float32)
    y, dy, dx, grads = forward_backward(layer, x, params, state, train)
    assert (y.dtype, dx.dtype) == (np.float32, np.float32)
    assert all(g.dtype == np.float32 for g in grads.values()), {k: g.dtype for k, g in grads.items()}
    y64, _ = run(layer, x.astype(np.float64), {k: v.astype(np.float64) for k, v in params.items()}, state, train)
    assert_close(y, y64, 1e-4, 1e-5, "float32 y vs float64 y")


@pytest.mark.parametrize("layer, shape, train, torch_fn", CASES)
def test_inputs_not_modified_and_backward_repeatable(layer, shape, train, torch_fn):
    x, params, state = make_inputs(layer, shape)
    x0, params0, state_arrays, state0 = x.copy(), copy.deepcopy(params), dict(state), copy.deepcopy(state)
    y, cache = layer.forward(x, params, train=train, state=state)
    dy = np.random.default_rng(1).standard_normal(y.shape)
    dy0 = dy.copy()
    dx, grads = layer.backward(dy, cache)
    dx2, grads2 = layer.backward(dy, cache)  # the cache survives a backward pass
    assert np.array_equal(x, x0) and np.array_equal(dy, dy0)
    assert all(np.array_equal(params[k], params0[k]) for k in params)
    assert all(np.array_equal(state_arrays[k], state0[k]) for k in state)  # replaced, never written into
    assert np.array_equal(dx, dx2) and all(np.array_equal(grads[k], grads2[k]) for k in grads)
    y2, _ = layer.forward(x, params, train=train, state=copy.deepcopy(state0))
    assert np.array_equal(y, y2), "forward is not deterministic"


# Max pooling ties: the whole gradient of a window goes to its first maximum in row-major order.
# PyTorch does not promise which maximum it picks, so ties are checked against this rule only.
def first_max_dx(x, dy, kernel, stride):
    """Brute force: one window at a time; np.argmax returns the first maximum in row-major order."""
    (kh, kw), (sh, sw) = kernel, stride
    dx = np.zeros_like(x)
    for n, c, r, q in np.ndindex(dy.shape):
        a, b = divmod(int(np.argmax(x[n, c, r * sh:r * sh + kh, q * sw:q * sw + kw])), kw)
        dx[n, c, r * sh + a, q * sw + b] += dy[n, c, r, q]
    return dx


@pytest.mark.parametrize("kernel, stride, shape, values", [
    pytest.param((2, 2), (1, 1), (2, 2, 5, 5), 3, id="2x2-s1-overlap"),
    pytest.param((3, 3), (2, 2), (1, 3, 7, 9), 3, id="3x3-s2-overlap-odd"),
    pytest.param((2, 3), (2, 3), (2, 2, 6, 7), 3, id="2x3-rect"),
    pytest.param((3, 3), (1, 1), (1, 1, 4, 5), 1, id="3x3-s1-all-equal"),
])
def test_maxpool_ties_go_to_first_maximum(kernel, stride, shape, values):
    rng = np.random.default_rng(0)
    x = rng.integers(0, values, shape).astype(np.float64)  # a few distinct values: ties in most windows
    layer = L.MaxPool2d(kernel_size=kernel, stride=stride)
    y, cache = layer.forward(x, {})
    dy = rng.standard_normal(y.shape)
    dx, _ = layer.backward(dy, cache)
    assert_close(dx, first_max_dx(x, dy, kernel, stride), 1e-12, 1e-12, "dx (first maximum rule)")
    torch = pytest.importorskip("torch")
    assert_close(y, torch.nn.functional.max_pool2d(torch.tensor(x), kernel, stride).numpy(), 0, 0, "y vs torch")


@pytest.mark.parametrize("window, where", [
    pytest.param([[1.0, 1.0], [1.0, 1.0]], (0, 0), id="all-equal"),
    pytest.param([[0.0, 2.0], [2.0, 2.0]], (0, 1), id="row-before-column"),
    pytest.param([[0.0, 1.0], [2.0, 2.0]], (1, 0), id="second-row"),
])
def test_maxpool_tie_rule_by_hand(window, where):
    x = np.array(window)[None, None]
    layer = L.MaxPool2d(kernel_size=2)
    y, cache = layer.forward(x, {})
    dx, _ = layer.backward(np.full(y.shape, 3.0), cache)
    expected = np.zeros_like(x)
    expected[(0, 0, *where)] = 3.0
    assert_close(dx, expected, 0, 0, "dx")


def test_batchnorm2d_running_stats_vs_torch():
    torch = pytest.importorskip("torch")
    layer = L.BatchNorm2d(num_features=3, eps=1e-4, momentum=0.2)
    tbn = torch.nn.BatchNorm2d(3, eps=1e-4, momentum=0.2, dtype=torch.float64)
    rng = np.random.default_rng(0)
    params = {"gamma": rng.standard_normal(3), "beta": rng.standard_normal(3)}
    with torch.no_grad():
        tbn.weight.copy_(torch.tensor(params["gamma"]))
        tbn.bias.copy_(torch.tensor(params["beta"]))
    state = layer.init_state()
    for step, shape in enumerate([(4, 3, 5, 5), (1, 3, 2, 3), (2, 3, 1, 1)]):
        x = rng.normal(3.0, 2.0, shape)
        y, _ = layer.forward(x, params, train=True, state=state)
        assert_close(y, tbn.train()(torch.tensor(x)).detach().numpy(), 1e-10, 1e-12, f"train y, step {step}")
        assert_close(state["running_mean"], tbn.running_mean.numpy(), 1e-12, 1e-14, f"running_mean, step {step}")
        assert_close(state["running_var"], tbn.running_var.numpy(), 1e-12, 1e-14, f"running_var, step {step}")
    before = copy.deepcopy(state)
    x = rng.normal(3.0, 2.0, (2, 3, 4, 4))
    y, _ = layer.forward(x, params, train=False, state=state)
    assert_close(y, tbn.eval()(torch.tensor(x)).detach().numpy(), 1e-10, 1e-12, "eval y")
    assert all(np.array_equal(state[k], before[k]) for k in state), "eval changed the running statistics"


def test_batchnorm2d_state_and_errors():
    layer = L.BatchNorm2d(num_features=3)
    state, params = layer.init_state(), layer.init_params(np.random.default_rng(0))
    assert_close(state["running_mean"], np.zeros(3), 0, 0, "initial running_mean")
    assert_close(state["running_var"], np.ones(3), 0, 0, "initial running_var")
    assert_close(params["gamma"], np.ones(3), 0, 0, "gamma")
    assert_close(params["beta"], np.zeros(3), 0, 0, "beta")
    with pytest.raises(ValueError):
        layer.forward(np.ones((1, 3, 1, 1)), params, train=True, state=state)  # one value per channel
    with pytest.raises(ValueError):
        layer.forward(np.ones((2, 3, 2, 2)), params, train=False, state=None)


def test_conv_init_params():
    layer = conv(64, 128, 3)
    params = layer.init_params(np.random.default_rng(0))
    assert params["W"].shape == (128, 64, 3, 3) and params["b"].shape == (128,)
    assert params["W"].dtype == np.float64 and not params["b"].any()
    assert abs(params["W"].std() / np.sqrt(2 / (64 * 9)) - 1) < 0.02, "He normal: std sqrt(2 / (C*KH*KW))"
    assert abs(params["W"].mean()) < 0.01
    again = layer.init_params(np.random.default_rng(0))
    assert np.array_equal(params["W"], again["W"]), "init_params must depend only on rng"
    assert conv(2, 3, (2, 5)).init_params(np.random.default_rng(0))["W"].shape == (3, 2, 2, 5)


@pytest.mark.parametrize("layer, shape", [
    pytest.param(conv(1, 1, 5), (1, 1, 4, 4), id="conv-kernel-too-big"),
    pytest.param(conv(1, 1, (2, 5), 1, 1), (1, 1, 4, 2), id="conv-kernel-too-wide"),
    pytest.param(L.MaxPool2d(kernel_size=3), (1, 1, 2, 5), id="maxpool-kernel-too-big"),
    pytest.param(L.AvgPool2d(kernel_size=(1, 6)), (1, 1, 2, 5), id="avgpool-kernel-too-wide"),
])
def test_kernel_larger_than_input_is_an_error(layer, shape):
    params = layer.init_params(np.random.default_rng(0))
    with pytest.raises(ValueError, match="does not fit"):
        layer.forward(np.zeros(shape), params)


@pytest.mark.parametrize("layer", [
    conv(3, 4, 3), conv(3, 4, (2, 3), 2, 1), L.MaxPool2d(kernel_size=2),
    L.MaxPool2d(kernel_size=(3, 2), stride=1), L.AvgPool2d(kernel_size=3, stride=(1, 2)),
    L.BatchNorm2d(num_features=4, momentum=0.3),
], ids=lambda layer: repr(layer))
def test_config_round_trip(layer):
    config = json.loads(json.dumps(layer.config()))
    rebuilt = L.LAYERS[config.pop("type")](**config)
    assert rebuilt.config() == layer.config() and repr(rebuilt) == repr(layer)


@pytest.mark.parametrize("c, k, s, p", [(3, 3, 1, 1), (3, 5, 2, 2), (32, 3, 1, 1), (16, 5, 2, 2)],
                         ids=["c3", "c3-s2", "c32", "c16-s2"])
def test_conv_channels_last_inputs_give_the_same_results(c, k, s, p):
    """x and dy laid out channels-last in memory (as the layers after a Conv2d return them)."""
    layer = conv(c, 8, k, s, p)
    x, params, state = make_inputs(layer, (3, c, 32, 32), dtype=np.float32)
    y, dy, dx, grads = forward_backward(layer, x, params, state, False)
    last = lambda a: np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)  # noqa: E731
    y2, cache = layer.forward(last(x), params)
    dx2, grads2 = layer.backward(last(dy), cache)
    # another memory layout may sum in another order: float32 rounding, relative to each array's scale
    for got, want in [(y2, y), (dx2, dx)] + [(grads2[k_], grads[k_]) for k_ in grads]:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * float(np.abs(want).max()))


def test_conv_work_arrays_reused_between_calls_never_reach_results():
    """Conv2d keeps its work arrays for the next call: what a call returned stays as it was
    through later calls on other inputs (on both paths), and the same inputs give the same again."""
    layers = [(conv(3, 8, 5, 2, 2), (4, 3, 16, 16)), (conv(16, 16, 3, 1, 1), (4, 16, 8, 8))]

    def results(layer, x, params, dy_scale):
        y, cache = layer.forward(x, params)
        dy = dy_scale * np.random.default_rng(2).standard_normal(y.shape).astype(np.float32)
        dx, grads = layer.backward(dy, cache)
        return [y, dx, *grads.values()]

    inputs = [(layer, *make_inputs(layer, shape, dtype=np.float32)[:2]) for layer, shape in layers]
    first = [results(layer, x, params, 1) for layer, x, params in inputs]
    kept = [[v.copy() for v in r] for r in first]
    for layer, x, params in inputs:  # other inputs, through the same work arrays
        results(layer, 2 * x + 1, params, 3)
    for (layer, x, params), returned, before in zip(inputs, first, kept):
        for a, b in zip(returned, before):  # the same memory: exactly as it was
            np.testing.assert_array_equal(a, b)
        for a, b in zip(results(layer, x, params, 1), before):  # computed again
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("layer, shape, train, torch_fn", CONV)
def test_speed_yardstick_matches_conv2d(layer, shape, train, torch_fn):
    """Im2colConv2d (the speed items' yardstick) computes what Conv2d computes."""
    yard = L.SPEED_YARDSTICKS["Conv2d"](**{k: getattr(layer, k) for k in
                                          ("in_channels", "out_channels", "kernel_size", "stride", "padding")})
    x, params, state = make_inputs(layer, shape)
    y, dy, dx, grads = forward_backward(layer, x, params, state, train)
    y2, dy2, dx2, grads2 = forward_backward(yard, x, params, state, train)
    assert_close(y2, y, 1e-12, 1e-12, "y")
    assert_close(dx2, dx, 1e-12, 1e-12, "dx")
    for k in grads:
        assert_close(grads2[k], grads[k], 1e-12, 1e-12, f"d{k}")
