"""reference/autoencoder.py: gradient checks, PyTorch agreement, dtypes, purity, geometry."""
import copy
import json

import numpy as np
import pytest

from reference import autoencoder as L

from .helpers import assert_close, make_inputs, numerical_grad, run


def torch_up(F, layer, x):
    return F.interpolate(x, scale_factor=layer.scale_factor, mode="nearest")


def torch_convt(F, layer, x, W, b):
    return F.conv_transpose2d(x, W, b, stride=layer.stride, padding=layer.padding,
                              output_padding=layer.output_padding)


def convt(c, f, k, s=1, p=0, op=0):
    return L.ConvTranspose2d(in_channels=c, out_channels=f, kernel_size=k, stride=s, padding=p, output_padding=op)


def case(name, layer, shape, torch_fn):
    return pytest.param(layer, shape, torch_fn, id=f"{name}-{'x'.join(map(str, shape))}")


UP = [
    case("up-2", L.Upsample2d(scale_factor=2), (2, 3, 4, 5), torch_up),
    case("up-3-batch1-odd", L.Upsample2d(scale_factor=3), (1, 2, 3, 5), torch_up),
    case("up-1", L.Upsample2d(scale_factor=1), (2, 2, 3, 3), torch_up),
    case("up-2x3-pair", L.Upsample2d(scale_factor=(2, 3)), (2, 2, 3, 4), torch_up),
    case("up-1x1-image", L.Upsample2d(), (3, 4, 1, 1), torch_up),
]
CONVT = [
    case("convt-3x3", convt(3, 2, 3), (2, 3, 4, 5), torch_convt),
    case("convt-4x4-s2-p1", convt(3, 4, 4, 2, 1), (2, 3, 4, 4), torch_convt),
    case("convt-3x3-s2-p1-op1", convt(2, 3, 3, 2, 1, 1), (2, 2, 5, 4), torch_convt),
    case("convt-2x3-s3-p2-op2-rect-batch1", convt(2, 3, (2, 3), 3, 2, 2), (1, 2, 3, 3), torch_convt),
    case("convt-1x1", convt(4, 2, 1), (2, 4, 3, 2), torch_convt),
    case("convt-1x1-s2", convt(2, 2, 1, 2), (1, 2, 3, 4), torch_convt),
    case("convt-5x5-s2-p2-odd", convt(2, 2, 5, 2, 2), (2, 2, 3, 5), torch_convt),
    case("convt-2x2-s2-1x1-image", convt(3, 2, 2, 2), (2, 3, 1, 1), torch_convt),
    case("convt-3x3-p1-wide", convt(2, 3, 3, 1, 1), (1, 2, 2, 17), torch_convt),
]
CASES = UP + CONVT


def forward_backward(layer, x, params, state, seed=1):
    y, cache = run(layer, x, params, state, False)
    dy = np.random.default_rng(seed).standard_normal(y.shape).astype(x.dtype)
    return y, dy, *layer.backward(dy, cache)


@pytest.mark.parametrize("layer, shape, torch_fn", CASES)
def test_gradcheck(layer, shape, torch_fn):
    x, params, state = make_inputs(layer, shape)
    y, dy, dx, grads = forward_backward(layer, x, params, state)
    assert grads.keys() == params.keys()
    assert_close(dx, numerical_grad(lambda x_: run(layer, x_, params, state, False)[0], x, dy), 1e-5, 1e-7, "dx")
    for k, p in params.items():
        f = lambda p_: run(layer, x, {**params, k: p_}, state, False)[0]  # noqa: E731
        assert_close(grads[k], numerical_grad(f, p, dy), 1e-5, 1e-7, f"d{k}")


@pytest.mark.parametrize("layer, shape, torch_fn", CASES)
def test_vs_torch(layer, shape, torch_fn):
    torch = pytest.importorskip("torch")
    x, params, state = make_inputs(layer, shape)
    y, dy, dx, grads = forward_backward(layer, x, params, state)
    xt = torch.tensor(x, requires_grad=True)
    pt = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    yt = torch_fn(torch.nn.functional, layer, xt, **pt)
    yt.backward(torch.tensor(dy))
    assert_close(y, yt.detach().numpy(), 1e-10, 1e-12, "y")
    assert_close(dx, xt.grad.numpy(), 1e-10, 1e-12, "dx")
    for k in params:
        assert_close(grads[k], pt[k].grad.numpy(), 1e-10, 1e-12, f"d{k}")


@pytest.mark.parametrize("c, f, k, s, p, op, shape", [
    pytest.param(64, 32, 4, 2, 1, 0, (8, 64, 8, 8), id="64->32-8x8-4x4-s2-p1"),
    pytest.param(32, 3, 3, 2, 1, 1, (4, 32, 16, 16), id="32->3-16x16-3x3-s2-p1-op1"),
])
def test_convt_float32_vs_torch_cifar_sized(c, f, k, s, p, op, shape):
    torch = pytest.importorskip("torch")
    layer = convt(c, f, k, s, p, op)
    x, params, state = make_inputs(layer, shape, dtype=np.float32)
    y, dy, dx, grads = forward_backward(layer, x, params, state)
    xt = torch.tensor(x, requires_grad=True)
    pt = {k_: torch.tensor(v, requires_grad=True) for k_, v in params.items()}
    yt = torch_convt(torch.nn.functional, layer, xt, **pt)
    yt.backward(torch.tensor(dy))
    assert (y.dtype, dx.dtype, grads["W"].dtype, grads["b"].dtype) == (np.float32,) * 4
    assert y.shape == (shape[0], f, 2 * shape[2], 2 * shape[3])
    assert_close(y, yt.detach().numpy(), 1e-4, 1e-4, "y")
    assert_close(dx, xt.grad.numpy(), 1e-4, 1e-4, "dx")
    for k_ in params:
        assert_close(grads[k_], pt[k_].grad.numpy(), 1e-4, 1e-3, f"d{k_}")


@pytest.mark.parametrize("layer, shape, torch_fn", CASES)
def test_float32_in_float32_out(layer, shape, torch_fn):
    x, params, state = make_inputs(layer, shape, dtype=np.float32)
    y, dy, dx, grads = forward_backward(layer, x, params, state)
    assert (y.dtype, dx.dtype) == (np.float32, np.float32)
    assert all(g.dtype == np.float32 for g in grads.values()), {k: g.dtype for k, g in grads.items()}
    y64, _ = run(layer, x.astype(np.float64), {k: v.astype(np.float64) for k, v in params.items()}, state, False)
    assert_close(y, y64, 1e-4, 1e-5, "float32 y vs float64 y")


@pytest.mark.parametrize("layer, shape, torch_fn", CASES)
def test_inputs_not_modified_and_backward_repeatable(layer, shape, torch_fn):
    x, params, state = make_inputs(layer, shape)
    x0, params0 = x.copy(), copy.deepcopy(params)
    y, cache = layer.forward(x, params)
    dy = np.random.default_rng(1).standard_normal(y.shape)
    dy0 = dy.copy()
    dx, grads = layer.backward(dy, cache)
    dx2, grads2 = layer.backward(dy, cache)
    assert np.array_equal(x, x0) and np.array_equal(dy, dy0)
    assert all(np.array_equal(params[k], params0[k]) for k in params)
    assert np.array_equal(dx, dx2) and all(np.array_equal(grads[k], grads2[k]) for k in grads)
    y = np.array(y)  # a broadcast view for Upsample2d: writing into a copy must not reach x
    y += 1
    assert np.array_equal(x, x0)


def test_upsample_by_hand():
    x = np.arange(4.0).reshape(1, 1, 2, 2)
    y, cache = L.Upsample2d(scale_factor=2).forward(x, {})
    assert_close(y[0, 0], np.array([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3.0]]), 0, 0, "y")
    dx, _ = L.Upsample2d(scale_factor=2).backward(np.arange(16.0).reshape(1, 1, 4, 4), cache)
    assert_close(dx[0, 0], np.array([[0 + 1 + 4 + 5, 2 + 3 + 6 + 7], [8 + 9 + 12 + 13, 10 + 11 + 14 + 15.0]]), 0, 0, "dx")


def test_convt_is_the_gradient_of_conv2d():
    """ConvTranspose2d with weights W is Conv2d's input gradient for the same W (and stride,
    padding): <conv(a), b> = <a, convt(b)>."""
    from reference.conv import Conv2d
    rng = np.random.default_rng(0)
    conv = Conv2d(in_channels=2, out_channels=3, kernel_size=3, stride=2, padding=1)
    t = convt(3, 2, 3, 2, 1)
    W = rng.standard_normal((3, 2, 3, 3))
    a, b = rng.standard_normal((2, 2, 7, 7)), rng.standard_normal((2, 3, 4, 4))
    ya, _ = conv.forward(a, {"W": W, "b": np.zeros(3)})
    yb, _ = t.forward(b, {"W": W, "b": np.zeros(2)})
    assert yb.shape == a.shape
    assert abs(float((ya * b).sum()) - float((a * yb).sum())) < 1e-10


def test_convt_init_params():
    layer = convt(64, 32, 4, 2, 1)
    params = layer.init_params(np.random.default_rng(0))
    assert params["W"].shape == (64, 32, 4, 4) and params["b"].shape == (32,)
    assert params["W"].dtype == np.float64 and not params["b"].any()
    assert abs(params["W"].std() / np.sqrt(2 / (64 * 16)) - 1) < 0.02
    assert convt(2, 3, (2, 5)).init_params(np.random.default_rng(0))["W"].shape == (2, 3, 2, 5)


@pytest.mark.parametrize("kwargs", [dict(stride=0), dict(padding=-1), dict(stride=2, output_padding=2),
                                    dict(output_padding=1)], ids=str)
def test_convt_bad_hyperparameters(kwargs):
    with pytest.raises(ValueError):
        L.ConvTranspose2d(in_channels=1, out_channels=1, kernel_size=3, **kwargs)


def test_convt_padding_larger_than_output_is_an_error():
    layer = convt(1, 1, 1, 1, 1)
    with pytest.raises(ValueError, match="empty output"):
        layer.forward(np.zeros((1, 1, 1, 1)), layer.init_params(np.random.default_rng(0)))
    with pytest.raises(ValueError, match="channels"):
        layer.forward(np.zeros((1, 2, 3, 3)), layer.init_params(np.random.default_rng(0)))


@pytest.mark.parametrize("layer", [L.Upsample2d(), L.Upsample2d(scale_factor=(2, 3)), convt(3, 4, 3),
                                   convt(3, 4, (2, 3), 2, 1, 1)], ids=repr)
def test_config_round_trip(layer):
    config = json.loads(json.dumps(layer.config()))
    rebuilt = L.LAYERS[config.pop("type")](**config)
    assert rebuilt.config() == layer.config() and repr(rebuilt) == repr(layer)
