"""Drivers: the code that exercises one implementation through the student contract.

A driver is `driver(resolve, spec, inputs) -> outputs`:
- `resolve(module, name)` returns the class or function to exercise: the student's (in a worker
  process) or the reference's (in the trusted parent);
- `spec` is plain JSON (constructor kwargs, flags, seeds);
- `inputs` and `outputs` are nested dicts of arrays.

The same driver runs on both sides, so the student's and the reference's outputs are produced
the same way and can be compared key by key in the parent. This module depends on NumPy only:
the worker loads it by path, before any student code is imported.
"""
import copy
import json
import time

import numpy as np

_clock = time.perf_counter  # bound before any student code runs

DRIVERS = {}


def driver(fn):
    DRIVERS[fn.__name__] = fn
    return fn


def _copy(tree):
    return copy.deepcopy(tree)


def _indexed(seq):
    """[a, b] -> {"0": a, "1": b}: the wire carries nested dicts only."""
    return {str(i): v for i, v in enumerate(seq)}


def _as_list(tree):
    """Inverse of `_indexed`: {"0": a, "1": b} -> [a, b]."""
    return [tree[str(i)] for i in range(len(tree))]


def xp_of(like):
    """The array module of `like`: CuPy for CuPy arrays, else NumPy (imported lazily)."""
    if type(like).__module__.split(".")[0] == "cupy":
        import cupy
        return cupy
    return np


def make_rng(seed, like):
    """A seeded generator of the array module of `like`."""
    return xp_of(like).random.default_rng(seed)


def _moved(base, i, step):
    """A copy of `base` with flat element i moved by `step`."""
    moved = base.copy()
    moved.reshape(-1)[i] += step
    return moved


# --------------------------------------------------------------------------- layers
@driver
def layer(resolve, spec, inputs):
    """Run forward (and backward when `dy` is given) of one layer over a list of steps.

    spec: {"module", "name", "kwargs", "steps": [{"x": key, "dy": key|None, "train": bool,
    "seed": int|None}], "state": bool}. All steps share one layer object and one state dict,
    so BatchNorm's running statistics carry from a training step to an evaluation step.
    Outputs per step i: `i/y`, `i/dx`, `i/grads/<name>`, `i/state/<name>`, and the inputs as
    they are after the call (`after/...`) for purity checks.
    """
    layer = resolve(spec["module"], spec["name"])(**spec.get("kwargs", {}))
    params = _copy(inputs.get("params", {}))
    state = _copy(inputs["state"]) if "state" in inputs else None
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
        if step.get("dy") is not None:
            dx, grads = layer.backward(inputs[step["dy"]], cache)
            res["dx"] = dx
            res["grads"] = dict(grads)
        if state is not None:
            res["state"] = dict(state)
        out[str(i)] = res
    out["after"] = {"params": params, **{k: v for k, v in inputs.items() if k not in ("params", "state")}}
    return out


@driver
def layer_perturbed(resolve, spec, inputs):
    """Forward outputs of one layer at central-difference perturbations of x and each param.

    spec: {"module", "name", "kwargs", "train", "seed", "h", "wrt": [keys]} where a key is "x"
    or "params/<name>". Output `f/<key>` has shape (2*size, *y.shape): rows 2i and 2i+1 are the
    outputs with element i raised and lowered by h. The trusted parent forms the differences.
    """
    layer = resolve(spec["module"], spec["name"])(**spec.get("kwargs", {}))
    h = spec["h"]

    def f(x, params):
        kwargs = {"train": spec.get("train", False)}
        if spec.get("seed") is not None:
            kwargs["rng"] = make_rng(spec["seed"], x)
        if "state" in inputs:
            kwargs["state"] = _copy(inputs["state"])
        return layer.forward(x, params, **kwargs)[0]

    return {"f": {key.replace("/", "."): _perturb(f, inputs, key, h) for key in spec["wrt"]}}


def _perturb(f, inputs, key, h):
    x, params = inputs["x"], _copy(inputs.get("params", {}))
    target = x if key == "x" else params[key.split("/", 1)[1]]
    base = target.copy()
    xp = xp_of(base)
    rows = []
    for i in range(base.size):
        for sign in (1.0, -1.0):
            moved = _moved(base, i, sign * h)
            if key == "x":
                rows.append(xp.asarray(f(moved, params)))
            else:
                rows.append(xp.asarray(f(x, {**params, key.split("/", 1)[1]: moved})))
    return xp.stack(rows)


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
    target = inputs["target"]
    base = inputs["scores"]
    xp = xp_of(base)
    rows = [xp.asarray(fn.forward(_moved(base, i, sign * spec["h"]), target)[0])
            for i in range(base.size) for sign in (1.0, -1.0)]
    return {"f": {"scores": xp.stack(rows)}}


# --------------------------------------------------------------------------- optimizers
@driver
def optimizer(resolve, spec, inputs):
    """Run `len(grads)` optimizer steps from `params`. Outputs: `traj/<k>/<name>` after step k;
    `after/params`, `after/grads` (the inputs as they are afterwards) and the state given to
    step k before and after that step (`state_before/<k>`, `state_after/<k>`), for purity."""
    opt = resolve(spec["module"], spec["name"])(**spec.get("kwargs", {}))
    params = dict(inputs["params"])
    grads = [dict(g) for g in _as_list(inputs["grads"])]
    state = opt.init_state(params)
    traj, before, after = [], [], []
    for g in grads:
        before.append(_copy(state))
        old = state
        params, state = opt.step(params, g, state)
        after.append(_copy(old))
        traj.append(_copy(params))
    return {"traj": _indexed(traj), "after": {"params": inputs["params"], "grads": _indexed(grads)},
            "state_before": _indexed(before), "state_after": _indexed(after)}


# --------------------------------------------------------------------------- initialisation
@driver
def initializer(resolve, spec, inputs):
    """One draw of an initialiser: output `w`."""
    fn = resolve(spec["module"], spec["name"])
    dtype = np.dtype(spec.get("dtype", "float64"))
    w = fn(spec["fan_in"], spec["fan_out"], rng=np.random.default_rng(spec["seed"]), dtype=dtype)
    return {"w": w}


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
        return x + (rng.random(x.shape) if rng is not None else 0.5), None

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
    params = [_copy(inputs["params"].get(str(i), {})) for i in range(5)]
    state = [{}, {}, {"count": xp_of(inputs["x"]).zeros(())}, {}, {}]
    rng = make_rng(spec["seed"], inputs["x"])
    y, cache = model.forward(inputs["x"], params, train=spec["train"], rng=rng, state=state)
    dx, grads = model.backward(inputs["dy"], cache)
    return {"y": y, "dx": dx, "grads": _indexed(grads), "state": _indexed(state)}


# --------------------------------------------------------------------------- trained models
def build_model(resolve, arch, modules=("layers",)):
    """A Sequential from a JSON architecture list [{"type": "Linear", ...}, ...]; each type is
    looked up in `modules`, in order."""
    def find(name):
        for module in modules:
            try:
                return resolve(module, name)
            except AttributeError:
                continue
        raise AttributeError(f"no layer class {name!r} in {', '.join(m + '.py' for m in modules)}")
    layers = [find(spec["type"])(**{k: v for k, v in spec.items() if k != "type"}) for spec in arch]
    return find("Sequential")(layers=layers)


def split_weights(arch, weights):
    """{"i.name": array} -> (params, state) lists, one dict per layer."""
    params = [{} for _ in arch]
    state = [{} for _ in arch]
    for key, value in weights.items():
        i, name = key.split(".", 1)
        (state if name.startswith("running_") else params)[int(i)][name] = value
    return params, state


@driver
def predict(resolve, spec, inputs):
    """Class predictions of a trained model in evaluation mode, in batches: output `pred`."""
    arch = json.loads(spec["arch"])
    model = build_model(resolve, arch, spec.get("modules", ["layers"]))
    params, state = split_weights(arch, inputs["weights"])
    x = inputs["x"]
    bs = spec.get("batch_size", 500)
    preds = []
    for i in range(0, len(x), bs):
        scores, _ = model.forward(x[i:i + bs], params, train=False, rng=None, state=state)
        preds.append(scores.argmax(axis=1))
    return {"pred": xp_of(x).concatenate(preds)}


# --------------------------------------------------------------------------- speed
@driver
def speed(resolve, spec, inputs):
    """Time the forward or backward pass of a layer against the reference's, interleaved.

    spec: {"module", "name", "kwargs", "part": "forward"|"backward", "repeats", "budget_s",
    "probe_limit"}. A first, small probe (inputs `probe/...`) stops early when the student's code
    is more than `probe_limit` times slower (pixel loops), so naive code costs seconds, not
    minutes. Outputs: `times/student`, `times/reference` (seconds), and the student's outputs on
    the timed inputs (`out/...`) so the parent can insist on a correct result.
    """
    kwargs = spec.get("kwargs", {})
    student = resolve(spec["module"], spec["name"])(**kwargs)
    reference = resolve("@reference", spec["name"])(**kwargs)

    def run(layer, data):
        x, params = data["x"], data.get("params", {})
        if spec["part"] == "forward":
            start = _clock()
            y, _ = layer.forward(x, params)
            return _clock() - start, {"y": y}
        y, cache = layer.forward(x, params)
        start = _clock()
        dx, grads = layer.backward(data["dy"], cache)
        return _clock() - start, {"dx": dx, "grads": dict(grads)}

    probe_ref = min(run(reference, inputs["probe"])[0] for _ in range(3))
    probe_student = run(student, inputs["probe"])[0]
    if probe_student > spec["probe_limit"] * probe_ref:
        return {"probe": {"student": probe_student, "reference": probe_ref}}
    _, out = run(student, inputs)  # warm-up, and the result checked for correctness
    run(reference, inputs)
    times = {"student": [], "reference": []}
    start = _clock()
    for r in range(spec["repeats"]):
        for who in (("student", "reference") if r % 2 == 0 else ("reference", "student")):
            times[who].append(run(student if who == "student" else reference, inputs)[0])
        if _clock() - start > spec["budget_s"] and r >= 2:
            break
    return {"times": {k: np.array(v) for k, v in times.items()}, "out": out}
