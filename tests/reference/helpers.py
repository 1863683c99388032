"""Test helpers for reference/: numerical gradients and closeness checks with useful messages."""
import contextlib
import copy
import warnings

import numpy as np


def numerical_grad(f, x, dy, h=1e-6):
    """Central-difference gradient of sum(f(x) * dy) w.r.t. x, in float64.

    `dy` is the (random) upstream gradient, the shape of f(x); never all ones, which hides
    transposes. Returns an array of x's shape.
    """
    x = np.array(x, dtype=np.float64)  # a private copy we perturb in place
    dy = np.asarray(dy, dtype=np.float64)
    grad = np.empty_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        plus = np.sum(np.asarray(f(x), dtype=np.float64) * dy)
        x[i] = old - h
        minus = np.sum(np.asarray(f(x), dtype=np.float64) * dy)
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def assert_close(got, expected, rtol, atol, name):
    """Assert |got - expected| <= atol + rtol * |expected| elementwise, naming the worst element."""
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, f"{name}: shape {got.shape}, expected {expected.shape}"
    if got.size == 0:
        return
    g, e = got.astype(np.float64), expected.astype(np.float64)
    with np.errstate(invalid="ignore"):
        err = np.abs(g - e)
        tol = atol + rtol * np.abs(e)
        ok = (g == e) | (np.isnan(g) & np.isnan(e)) | (err <= tol)
    if ok.all():
        return
    score = np.where(ok, -np.inf, np.nan_to_num(err - tol, nan=np.inf))
    i = np.unravel_index(np.argmax(score), got.shape)
    rel = err[i] / abs(e[i]) if e[i] != 0 else np.inf
    raise AssertionError(
        f"{name}: {np.sum(~ok)} of {got.size} elements differ; worst at {i}: "
        f"got {g[i]!r}, expected {e[i]!r} (abs err {err[i]:.3g}, rel err {rel:.3g}; "
        f"rtol={rtol}, atol={atol})")


@contextlib.contextmanager
def no_fp_warnings():
    """Turn overflow, division by zero, invalid operations and any warning into errors.

    Underflow to 0 (exp(-2000)) stays allowed: it is the correct result.
    """
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        yield


def make_inputs(layer, shape, dtype=np.float64, seed=0):
    """Random x, random (non-default) params and state, all in `dtype`."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    params = {k: rng.standard_normal(v.shape).astype(dtype) for k, v in layer.init_params(rng).items()}
    state = {k: (rng.uniform(0.5, 2.0, v.shape) if k == "running_var" else rng.standard_normal(v.shape)).astype(dtype)
             for k, v in layer.init_state().items()}
    return x, params, state


def run(layer, x, params, state, train):
    """Forward (with a fixed-seed rng, so Dropout's mask is reproducible), on a copy of state
    (BatchNorm replaces its entries at train time)."""
    return layer.forward(x, params, train=train, rng=np.random.default_rng(7), state=copy.deepcopy(state))
