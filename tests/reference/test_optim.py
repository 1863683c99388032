"""reference/optim.py: trajectories against torch.optim, purity, dtypes, state, closed-form steps."""
import copy
import io

import numpy as np
import pytest

from reference import optim as O

from .helpers import assert_close

SHAPES = {"W": (3, 4), "b": (4,)}

# (id, ours(weight_decay), torch's(torch, tensors, weight_decay)); the "-defaults" cases check
# that our default hyperparameters are PyTorch's.
OPTIMIZERS = [
    ("sgd", lambda wd: O.SGD(lr=0.1, weight_decay=wd),
     lambda torch, ps, wd: torch.optim.SGD(ps, lr=0.1, weight_decay=wd)),
    ("momentum", lambda wd: O.Momentum(lr=0.1, momentum=0.8, weight_decay=wd),
     lambda torch, ps, wd: torch.optim.SGD(ps, lr=0.1, momentum=0.8, weight_decay=wd)),
    ("nesterov", lambda wd: O.Nesterov(lr=0.1, momentum=0.8, weight_decay=wd),
     lambda torch, ps, wd: torch.optim.SGD(ps, lr=0.1, momentum=0.8, nesterov=True, weight_decay=wd)),
    ("adagrad", lambda wd: O.AdaGrad(lr=0.1, eps=1e-6, weight_decay=wd),
     lambda torch, ps, wd: torch.optim.Adagrad(ps, lr=0.1, eps=1e-6, lr_decay=0, initial_accumulator_value=0,
                                               weight_decay=wd)),
    ("adagrad-defaults", lambda wd: O.AdaGrad(weight_decay=wd),
     lambda torch, ps, wd: torch.optim.Adagrad(ps, weight_decay=wd)),
    ("rmsprop", lambda wd: O.RMSProp(lr=0.05, alpha=0.9, eps=1e-4, weight_decay=wd),
     lambda torch, ps, wd: torch.optim.RMSprop(ps, lr=0.05, alpha=0.9, eps=1e-4, weight_decay=wd)),
    ("rmsprop-defaults", lambda wd: O.RMSProp(weight_decay=wd),
     lambda torch, ps, wd: torch.optim.RMSprop(ps, weight_decay=wd)),
    ("adadelta", lambda wd: O.Adadelta(lr=0.5, rho=0.8, eps=1e-3, weight_decay=wd),
     lambda torch, ps, wd: torch.optim.Adadelta(ps, lr=0.5, rho=0.8, eps=1e-3, weight_decay=wd)),
    ("adadelta-defaults", lambda wd: O.Adadelta(weight_decay=wd),
     lambda torch, ps, wd: torch.optim.Adadelta(ps, weight_decay=wd)),
    ("adam", lambda wd: O.Adam(lr=0.05, beta1=0.8, beta2=0.95, eps=1e-4, weight_decay=wd),
     lambda torch, ps, wd: torch.optim.Adam(ps, lr=0.05, betas=(0.8, 0.95), eps=1e-4, weight_decay=wd)),
    ("adam-defaults", lambda wd: O.Adam(weight_decay=wd),
     lambda torch, ps, wd: torch.optim.Adam(ps, weight_decay=wd)),
]
WEIGHT_DECAY = pytest.mark.parametrize("wd", [0.0, 0.1], ids=["wd0", "wd0.1"])
BY_NAME = pytest.mark.parametrize("ours, theirs", [pytest.param(o, t, id=n) for n, o, t in OPTIMIZERS])


def make_problem(steps=5, dtype=np.float64, seed=0):
    """Random params and a sequence of random gradients (some of them large, some tiny)."""
    rng = np.random.default_rng(seed)
    params = {k: rng.standard_normal(s).astype(dtype) for k, s in SHAPES.items()}
    grads = [{k: (rng.standard_normal(s) * 10.0 ** rng.integers(-2, 2)).astype(dtype) for k, s in SHAPES.items()}
             for _ in range(steps)]
    return params, grads


@BY_NAME
@WEIGHT_DECAY
def test_trajectory_vs_torch(ours, theirs, wd):
    torch = pytest.importorskip("torch")
    opt, (params, grads) = ours(wd), make_problem()
    tparams = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    topt = theirs(torch, list(tparams.values()), wd)
    state = opt.init_state(params)
    for t, g in enumerate(grads, start=1):
        params, state = opt.step(params, g, state)
        for k, p in tparams.items():
            p.grad = torch.tensor(g[k])
        topt.step()
        for k in params:
            assert_close(params[k], tparams[k].detach().numpy(), 1e-10, 1e-12, f"{k} after step {t}")
    assert int(state["t"]) == len(grads)


@BY_NAME
@WEIGHT_DECAY
def test_step_is_pure(ours, theirs, wd):
    opt, (params, grads) = ours(wd), make_problem(steps=2)
    state = opt.step(params, grads[0], opt.init_state(params))[1]  # non-zero buffers
    before = copy.deepcopy((params, grads[1], state))
    new_params, new_state = opt.step(params, grads[1], state)
    for old, new in zip((params, grads[1], state), before):
        assert old.keys() == new.keys() and all(np.array_equal(old[k], new[k]) for k in old), "arguments modified"
    assert all(not np.shares_memory(new_params[k], params[k]) for k in params), "params updated in place"
    assert all(not np.shares_memory(new_state[k], state[k]) for k in state), "state updated in place"


@BY_NAME
def test_float32_stays_float32(ours, theirs):
    opt, (params, grads) = ours(0.1), make_problem(steps=3, dtype=np.float32)
    params64, _ = make_problem(steps=3)
    state, state64 = opt.init_state(params), opt.init_state(params64)
    for g in grads:
        params, state = opt.step(params, g, state)
        params64, state64 = opt.step(params64, {k: v.astype(np.float64) for k, v in g.items()}, state64)
    assert {p.dtype for p in params.values()} == {np.dtype(np.float32)}
    assert {v.dtype for k, v in state.items() if k != "t"} <= {np.dtype(np.float32)}
    for k in params:
        assert_close(params[k], params64[k], 1e-4, 1e-5, f"float32 {k} vs float64")


@BY_NAME
def test_state_is_flat_arrays_and_survives_savez(ours, theirs):
    opt, (params, grads) = ours(0.0), make_problem(steps=3)
    state = opt.init_state(params)
    assert int(state["t"]) == 0
    assert all(isinstance(v, np.ndarray) for v in state.values())
    for g in grads[:2]:
        params, state = opt.step(params, g, state)
    buffer = io.BytesIO()
    np.savez(buffer, **state)
    buffer.seek(0)
    with np.load(buffer) as loaded:
        restored = {k: loaded[k] for k in loaded.files}
    expected, _ = opt.step(params, grads[2], state)
    got, _ = opt.step(params, grads[2], restored)
    for k in params:
        assert_close(got[k], expected[k], 0, 0, f"{k} after a savez round trip")


def test_sgd_and_momentum_closed_form():
    (p0, (g1, g2)), lr, m = make_problem(steps=2), 0.1, 0.8
    opt = O.Momentum(lr=lr, momentum=m)
    p1, s1 = opt.step(p0, g1, opt.init_state(p0))
    p2, _ = opt.step(p1, g2, s1)
    sgd = O.SGD(lr=lr, weight_decay=0.5)
    q1, _ = sgd.step(p0, g1, sgd.init_state(p0))
    for k in p0:
        assert_close(p2[k], p0[k] - lr * g1[k] - lr * (m * g1[k] + g2[k]), 1e-12, 1e-14, f"momentum {k}")
        assert_close(q1[k], p0[k] - lr * (g1[k] + 0.5 * p0[k]), 1e-12, 1e-14, f"sgd with weight decay {k}")


def test_adam_bias_correction_first_step_moves_by_lr():
    params, (g, *_) = make_problem(steps=1)
    opt = O.Adam(lr=0.01, eps=1e-12)
    new, _ = opt.step(params, g, opt.init_state(params))
    for k in params:  # with bias correction, step one is lr * g / |g|
        assert_close(params[k] - new[k], 0.01 * np.sign(g[k]), 1e-6, 0, f"first Adam step of {k}")
