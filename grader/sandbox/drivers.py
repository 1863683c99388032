"""Drivers: the code that exercises one implementation through the student contract.

A driver is `driver(resolve, spec, inputs) -> outputs`:
- `resolve(module, name)` returns the class or function to exercise: the student's (in a worker
  process) or the reference's (in the trusted parent);
- `spec` is plain JSON (constructor kwargs, flags, seeds);
- `inputs` and `outputs` are nested dicts of arrays.

The same driver runs on both sides, so the student's and the reference's outputs are produced
the same way and can be compared key by key in the parent. Outputs under `show/` feed figures
only: the parent never compares them and the public cases do not store the reference's. This
module depends on NumPy and `cost.py` only: the worker loads both by path, before any student
code is imported.

A course adds drivers of its own in `solutions/<a>/drivers.py` with the same `@driver`
decorator (`grader.sandbox.course_drivers`); a model driver registers its cost with `@planner`.

Here: the generic drivers (layers, losses, optimizers, initialisers, Sequential, recurrent steps,
plain functions, samplers); `trained.py` the trained models' (predict, text_nll, generate);
`driverbase.py` the registry and shared helpers; `cost.py` the cost model. This module gathers
their names: what the engine and a course's own drivers (`solutions/<a>/drivers.py`, the same
`@driver` decorator; `grader.sandbox.course_drivers`) import.
"""
import numpy as np

from .cost import (BLOCK_BYTES, ELEMENTWISE, MAX_EVAL_BYTES, MAX_EVAL_FLOPS, THREADS, Cost, CostError, Plan,  # noqa: F401
                   WeightsError, model_cost, plan, plan_images, plan_text, prod)
from .driverbase import (DRIVERS, PLANS, as_list, copied, shape_ok, driver, indexed, make_rng,  # noqa: F401
                         perturb_all, plan_call, planner, xp_of)
from .trained import build_model, generate, predict, split_weights, text_nll  # noqa: F401  (registers them)

if __package__ == "grader.sandbox":  # the trusted parent (not the worker): a course's own drivers
    from . import course_drivers  # noqa: F401  (DRIVERS finds them on first use)


# --------------------------------------------------------------------------- layers
@driver
def layer(resolve, spec, inputs):
    """Run forward (and backward when `dy` is given) of one layer over a list of steps.

    spec: {"module", "name", "kwargs", "steps": [{"x": key, "dy": key|None, "train": bool,
    "seed": int|None}], "empty_state": bool}; with `empty_state` and no `state` input the layer
    gets an empty state dict (an empty dict does not survive the wire). All steps share one layer object and one state dict,
    so BatchNorm's running statistics carry from a training step to an evaluation step.
    Outputs per step i: `i/y`, `i/dx`, `i/grads/<name>`, `i/state/<name>`, and the inputs as
    they are after the call (`after/...`) for purity checks.
    """
    layer = resolve(spec["module"], spec["name"])(**spec.get("kwargs", {}))
    params = copied(inputs.get("params", {}))
    state = copied(inputs["state"]) if "state" in inputs else {} if spec.get("empty_state") else None
    given = dict(state) if state is not None else None  # the arrays given: replaced, never written into
    out = {}
    for i, step in enumerate(spec["steps"]):
        x = inputs[step["x"]]
        kwargs = {"train": step.get("train", False)}
        if step.get("seed") is not None:
            kwargs["rng"] = make_rng(step["seed"], x)
        if state is not None:
            kwargs["state"] = state
        y, cache = layer.forward(x, params, **kwargs)
        res = {"y": y}
        if step.get("dy") is not None and not shape_ok(y, inputs[step["dy"]], res):
            pass  # backward is not run on a forward output of the wrong shape (the parent says so)
        elif step.get("dy") is not None:
            dx, grads = layer.backward(inputs[step["dy"]], cache)
            res["dx"] = dx
            res["grads"] = dict(grads)
        if state is not None:
            res["state"] = dict(state)
        out[str(i)] = res
    out["after"] = {"params": params, **{k: v for k, v in inputs.items() if k not in ("params", "state")}}
    if given is not None:
        out["after"]["state"] = given
    return out


@driver
def layer_perturbed(resolve, spec, inputs):
    """Forward outputs of one layer at central-difference perturbations of x and each param.

    spec: {"module", "name", "kwargs", "train", "seed", "h", "wrt": [keys]} where a key is "x"
    or "params/<name>". Output `f/<key>` has shape (2*size, *y.shape): rows 2i and 2i+1 are the
    outputs with element i raised and lowered by h. The trusted parent forms the differences.
    """
    layer = resolve(spec["module"], spec["name"])(**spec.get("kwargs", {}))

    def f(data):
        kwargs = {"train": spec.get("train", False)}
        if spec.get("seed") is not None:
            kwargs["rng"] = make_rng(spec["seed"], data["x"])
        if "state" in data:
            kwargs["state"] = data["state"]
        return layer.forward(data["x"], data.get("params", {}), **kwargs)[0]

    return {"f": perturb_all(f, inputs, spec)}


# --------------------------------------------------------------------------- losses
@driver
def loss(resolve, spec, inputs):
    """Forward and backward of one loss. Outputs: `loss`, `dscores`, `after/...`."""
    fn = resolve(spec["module"], spec["name"])(**spec.get("kwargs", {}))
    scores, target = inputs["scores"], inputs["target"]
    value, cache = fn.forward(scores, target)
    return {"loss": value, "dscores": fn.backward(cache),
            "after": {"scores": scores, "target": target}}


@driver
def loss_perturbed(resolve, spec, inputs):
    """Loss values at central-difference perturbations of the scores: `f/scores` (2*size,)."""
    fn = resolve(spec["module"], spec["name"])(**spec.get("kwargs", {}))
    return {"f": perturb_all(lambda d: fn.forward(d["scores"], d["target"])[0], inputs, spec)}


# --------------------------------------------------------------------------- optimizers
@driver
def optimizer(resolve, spec, inputs):
    """Run `len(grads)` optimizer steps from `params`. Outputs: `traj/<k>/<name>` after step k;
    `after/params`, `after/grads` (the inputs as they are afterwards) and the state given to
    step k before and after that step (`state_before/<k>`, `state_after/<k>`), for purity."""
    opt = resolve(spec["module"], spec["name"])(**spec.get("kwargs", {}))
    params = dict(inputs["params"])
    grads = [dict(g) for g in as_list(inputs["grads"])]
    state = opt.init_state(params)
    traj, before, after = [], [], []
    for g in grads:
        before.append(copied(state))
        old = state
        params, state = opt.step(params, g, state)
        after.append(copied(old))
        traj.append(copied(params))
    return {"traj": indexed(traj), "after": {"params": inputs["params"], "grads": indexed(grads)},
            "state_before": indexed(before), "state_after": indexed(after)}


# --------------------------------------------------------------------------- initialisation
@driver
def initializer(resolve, spec, inputs):
    """One draw of an initialiser: output `w`."""
    fn = resolve(spec["module"], spec["name"])
    dtype = np.dtype(spec.get("dtype", "float64"))
    w = fn(spec["fan_in"], spec["fan_out"], rng=np.random.default_rng(spec["seed"]), dtype=dtype)
    return {"w": w}


STUDY_BINS = np.linspace(-1.0, 1.0, 42)  # 41 bins over tanh's range, one centred on 0


# --------------------------------------------------------------------------- Sequential
class ProbeScale:
    """A known layer for testing Sequential alone: y = x * s, params {"s": (D,)}."""

    def forward(self, x, params, *, train=False, rng=None, state=None):
        return x * params["s"], (x, params["s"])

    def backward(self, dy, cache):
        x, s = cache
        return dy * s, {"s": (dy * x).sum(axis=0)}


class ProbeCube:
    """A known parameter-free layer: y = x**3, and at train time y = x**3 + 1."""

    def forward(self, x, params, *, train=False, rng=None, state=None):
        return x ** 3 + (1.0 if train else 0.0), x

    def backward(self, dy, cache):
        return dy * 3 * cache ** 2, {}


class ProbeNoise:
    """A known random layer: y = x + u with u = rng.random(x.shape) at train time (u = 0.5 when
    no rng arrives), y = x at eval."""

    def forward(self, x, params, *, train=False, rng=None, state=None):
        if not train:
            return x, None
        return x + (xp_of(x).asarray(rng.random(x.shape)) if rng is not None else 0.5), None

    def backward(self, dy, cache):
        return dy, {}


class ProbeCounter:
    """A known stateful layer: y = x, and at train time it adds 1 to state["count"]."""

    def forward(self, x, params, *, train=False, rng=None, state=None):
        if train:
            state["count"] = state["count"] + 1
        return x, None

    def backward(self, dy, cache):
        return dy, {}


@driver
def sequential(resolve, spec, inputs):
    """Sequential over probe layers (scale, cube, counter, noise, scale) in train or eval mode."""
    model = resolve(spec["module"], spec["name"])(
        layers=[ProbeScale(), ProbeCube(), ProbeCounter(), ProbeNoise(), ProbeScale()])
    params = [copied(inputs["params"].get(str(i), {})) for i in range(5)]
    state = [{}, {}, {"count": xp_of(inputs["x"]).zeros(())}, {}, {}]
    rng = make_rng(spec["seed"], inputs["x"])
    y, cache = model.forward(inputs["x"], params, train=spec["train"], rng=rng, state=state)
    dx, grads = model.backward(inputs["dy"], cache)
    return {"y": y, "dx": dx, "grads": indexed(grads), "state": indexed(state)}


# --------------------------------------------------------------------------- speed
# Speed items are timed by the parent (`grader/sandbox/timing.py`): the worker runs `build`, `forward`
# and `backward` messages on one layer (`worker.py`), never a timer.


# --------------------------------------------------------------------------- recurrent steps
def _pack(inputs, name):
    """The LSTM's state is a pair: ("h", "c") inputs become (h, c); otherwise just h."""
    return (inputs[name], inputs[name + "_c"]) if name + "_c" in inputs else inputs[name]


def _unpack(value, name):
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return {name: value[0], name + "_c": value[1]}
    return {name: value}


@driver
def step(resolve, spec, inputs):
    """One recurrent step and, when `spec["backward"]`, its backward: outputs `h_next`
    (`h_next_c`), `dx`, `dh` (`dh_c`), `grads`, and `after/...` for purity. Inputs: `x`, `h` (and
    `h_c`), `params`, `dh_next` (and `dh_next_c`). A forward-only call never runs `step_backward`."""
    cell = resolve(spec["module"], spec["name"])(**spec.get("kwargs", {}))
    params = copied(inputs["params"])
    h_next, cache = cell.step(inputs["x"], _pack(inputs, "h"), params)
    out = _unpack(h_next, "h_next")
    if spec.get("backward", True) and all(
            shape_ok(value, inputs["dh" + key[1:]], out, "c_next" if key.endswith("_c") else "h_next")
            for key, value in list(out.items())):
        dx, dh, grads = cell.step_backward(_pack(inputs, "dh_next"), cache)
        out.update({"dx": dx, **_unpack(dh, "dh"), "grads": dict(grads)})
    out["after"] = {"params": params, **{k: v for k, v in inputs.items() if k != "params"}}
    return out


@driver
def step_perturbed(resolve, spec, inputs):
    """A step's outputs (h_next, and c_next flattened after it) at perturbations of `wrt`."""
    cell = resolve(spec["module"], spec["name"])(**spec.get("kwargs", {}))
    xp = xp_of(inputs["x"])

    def f(data):
        out = cell.step(data["x"], _pack(data, "h"), data["params"])[0]
        parts = out if isinstance(out, (tuple, list)) else (out,)
        return xp.concatenate([xp.asarray(p).reshape(len(data["x"]), -1) for p in parts], axis=1)

    return {"f": perturb_all(f, inputs, spec)}


# --------------------------------------------------------------------------- plain functions
@driver
def function(resolve, spec, inputs):
    """Call a function with inputs `spec["args"]` (names, in order) and `spec["kwargs"]`;
    outputs `out/0`, `out/1`, ... for a tuple result (`out` otherwise) and `after/...`."""
    fn = resolve(spec["module"], spec["name"])
    args = [copied(inputs[a]) if isinstance(inputs[a], dict) else inputs[a] for a in spec["args"]]
    kwargs = dict(spec.get("kwargs", {}))
    if "seed" in spec:
        kwargs["rng"] = make_rng(spec["seed"], args[0])
    out = fn(*args, **kwargs)
    out = indexed(out) if isinstance(out, tuple) else out
    return {"out": out, "after": {a: args[i] for i, a in enumerate(spec["args"])}}


@driver
def function_perturbed(resolve, spec, inputs):
    """The first output of a function at perturbations of `wrt` (paths into the inputs)."""
    fn = resolve(spec["module"], spec["name"])

    def f(data):
        out = fn(*[data[a] for a in spec["args"]], **spec.get("kwargs", {}))
        return out[0] if isinstance(out, tuple) else out

    return {"f": perturb_all(f, inputs, spec)}


@driver
def sampler(resolve, spec, inputs):
    """Draws from `sample_next` on `rows` copies of the logits: output `samples` (rows, N)."""
    fn = resolve(spec["module"], spec["name"])
    logits = inputs["logits"]
    xp = xp_of(logits)
    tiled = xp.tile(logits, (spec["rows"], 1))
    kwargs = {k: spec[k] for k in ("temperature", "top_k") if k in spec}
    out = fn(tiled, rng=make_rng(spec["seed"], logits), **kwargs)
    return {"samples": xp.asarray(out).reshape(spec["rows"], len(logits))}


