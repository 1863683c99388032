"""Drivers: the code that exercises one implementation through the student contract.

A driver is `driver(resolve, spec, inputs) -> outputs`:
- `resolve(module, name)` returns the class or function to exercise: the student's (in a worker
  process) or the reference's (in the trusted parent);
- `spec` is plain JSON (constructor kwargs, flags, seeds);
- `inputs` and `outputs` are nested dicts of arrays.

The same driver runs on both sides, so the student's and the reference's outputs are produced
the same way and can be compared key by key in the parent. Outputs under `show/` feed figures
only: the parent never compares them and the public cases do not store the reference's. This
module depends on NumPy only: the worker loads it by path, before any student code is imported.
"""
import copy
import json

import numpy as np


DRIVERS = {}


def driver(fn):
    DRIVERS[fn.__name__] = fn
    return fn


def _copy(tree):
    return copy.deepcopy(tree)


def indexed(seq):
    """[a, b] -> {"0": a, "1": b}: the wire carries nested dicts only."""
    return {str(i): v for i, v in enumerate(seq)}


def _as_list(tree):
    """Inverse of `indexed`: {"0": a, "1": b} -> [a, b]."""
    return [tree[str(i)] for i in range(len(tree))]


def xp_of(like):
    """The array module of `like`: CuPy for CuPy arrays, else NumPy (imported lazily)."""
    if type(like).__module__.split(".")[0] == "cupy":
        import cupy
        return cupy
    return np


def make_rng(seed, like=None):
    """A seeded `numpy.random.Generator`, on every device: its draws are made on the host (and
    moved with `xp.asarray`), so a seed gives the same masks and samples on NumPy and CuPy and
    the trusted parent's reference, on NumPy, sees the same numbers as the worker."""
    return np.random.default_rng(seed)


def _moved(base, i, step):
    """A copy of `base` with flat element i moved by `step`."""
    moved = base.copy()
    moved.reshape(-1)[i] += step
    return moved


def _shape_ok(y, dy, res, what="y"):
    """False (and `res["forward_shape"]` set to y's shape, [-1] for a non-array) when the forward
    output cannot take the contract-shaped upstream gradient `dy`: backward is then not run."""
    shape = getattr(y, "shape", None)
    if shape is not None and tuple(shape) == tuple(dy.shape):
        return True
    res["forward_shape"] = np.array([-1] if shape is None else list(shape), dtype=np.int64)
    res["forward_shape_of"] = np.array(["y", "h_next", "c_next"].index(what), dtype=np.int64)
    return False


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
    params = _copy(inputs.get("params", {}))
    state = _copy(inputs["state"]) if "state" in inputs else {} if spec.get("empty_state") else None
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
        if step.get("dy") is not None and not _shape_ok(y, inputs[step["dy"]], res):
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

    return {"f": _perturb_all(f, inputs, spec)}


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
    return {"f": _perturb_all(lambda d: fn.forward(d["scores"], d["target"])[0], inputs, spec)}


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


@driver
def init_study(resolve, spec, inputs):
    """Activation statistics of a deep tanh network: `depth` times Linear(width, width) (b = 0)
    then Tanh, built from `resolve`'s classes, fed x ~ N(0, 1) of shape (batch, width).

    spec: {"module", "width", "depth", "batch"} and either {"std": s}, weights s * N(0, 1)
    drawn here (the grader's weights, the same on both sides), or {"init_module", "init"},
    weights init(width, width, rng=...) drawn in layer order from one generator. inputs:
    `seeds` int (2,): x's seed, the weights' seed (NumPy's generator on every device; the
    arrays move to `seeds`' array module). Outputs, one row per layer: `stats` (depth, 2), the
    mean and std of the activations; `wstd` (depth,), the std of that layer's W; `show/hist`
    (depth, 41), counts of the activations over [-1, 1] (for the figure only). A layer whose W,
    Linear or Tanh output is not an array of the contract's shape stops the network:
    `broken` = [layer, what (0 W, 1 Linear, 2 Tanh), *shape] ([-1] for a non-array), and the
    outputs hold the layers before it.
    """
    xp = xp_of(inputs["seeds"])
    x_seed, w_seed = (int(s) for s in inputs["seeds"].tolist())
    n, width, depth = int(spec["batch"]), int(spec["width"]), int(spec["depth"])
    h = xp.asarray(np.random.default_rng(x_seed).standard_normal((n, width)))
    linear = resolve(spec["module"], "Linear")(in_features=width, out_features=width)
    tanh = resolve(spec["module"], "Tanh")()
    rng = np.random.default_rng(w_seed)
    if "std" in spec:
        def draw():
            return xp.asarray(float(spec["std"]) * rng.standard_normal((width, width)))
    else:
        init = resolve(spec["init_module"], spec["init"])

        def draw():
            return init(width, width, rng=rng)
    b = xp.zeros(width)
    edges = xp.asarray(STUDY_BINS)
    stats, wstd, hist, broken = [], [], [], None

    def bad(value, shape):
        """False when `value` is an array of `shape`; else the shape reported ([-1]: not an array)."""
        if type(value) in (np.ndarray, xp.ndarray) and tuple(value.shape) == shape:
            return False
        return list(value.shape) if type(value) in (np.ndarray, xp.ndarray) else [-1]

    for k in range(depth):
        W = draw()
        if bad(W, (width, width)):
            broken = [k, 0, *bad(W, (width, width))]
            break
        W = xp.asarray(W)  # a NumPy draw runs on the device
        y = linear.forward(h, {"W": W, "b": b})[0]
        if bad(y, (n, width)):
            broken = [k, 1, *bad(y, (n, width))]
            break
        h = tanh.forward(y, {})[0]
        if bad(h, (n, width)):
            broken = [k, 2, *bad(h, (n, width))]
            break
        a = h.astype(xp.float64)
        stats.append(xp.stack([a.mean(), a.std()]))
        wstd.append(W.astype(xp.float64).std())
        hist.append(xp.histogram(xp.where(xp.isfinite(a), a, 2.0), bins=edges)[0].astype(xp.int64))
    out = {"stats": xp.stack(stats) if stats else xp.zeros((0, 2)),
           "wstd": xp.stack(wstd) if wstd else xp.zeros(0),
           "show": {"hist": xp.stack(hist) if hist else xp.zeros((0, len(STUDY_BINS) - 1), xp.int64)}}
    if broken is not None:
        out["broken"] = np.array(broken, dtype=np.int64)
    return out


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
    params = [_copy(inputs["params"].get(str(i), {})) for i in range(5)]
    state = [{}, {}, {"count": xp_of(inputs["x"]).zeros(())}, {}, {}]
    rng = make_rng(spec["seed"], inputs["x"])
    y, cache = model.forward(inputs["x"], params, train=spec["train"], rng=rng, state=state)
    dx, grads = model.backward(inputs["dy"], cache)
    return {"y": y, "dx": dx, "grads": indexed(grads), "state": indexed(state)}


# --------------------------------------------------------------------------- evaluation cost
# Trained models are evaluated from a submitted architecture, in the trusted parent with the
# reference layers (and, for `dlgrade check`, in a worker with the student's). Before anything
# runs, `plan` computes from the architecture and the weights' shapes what the evaluation costs
# and refuses a model above these bounds (docs/security.md, "Trusted evaluation of weights").
MAX_EVAL_FLOPS = 6e12       # per call: 10x the costliest answer key (cnn.train.accuracy, 0.59 TFLOP)
MAX_EVAL_BYTES = 2 << 30    # estimated peak bytes of one batch's forward pass
ELEMENTWISE = 10            # FLOPs counted per value an elementwise pass writes (memory-bound on NumPy)
BLOCK_BYTES = 16 << 20      # Conv2d's patch blocks (reference/conv.py _BLOCK_BYTES_N), per thread
THREADS = 2                 # threads that may each hold a block at once


class WeightsError(ValueError):
    """The weights file is missing, unreadable or does not describe a model the grader evaluates.
    Defined here because the drivers raise it on both sides of the boundary; grader.items.models
    re-exports it."""


class CostError(WeightsError):
    """A model whose evaluation would cost more than the bounds (`plan`): refused before it runs."""


class Cost:
    """What one example costs through a model, from its architecture alone (nothing is run).

    `flops` per example; `held` bytes per example that stay alive until the forward pass ends (the
    Sequential keeps every layer's cache); `work` bytes per example of the costliest layer's arrays
    freed within that layer; `fixed` bytes whatever the batch (weights, their work copies, patch
    blocks); `shape` the output shape of one example."""

    def __init__(self, flops, held, work, fixed, shape):
        self.flops, self.held, self.work, self.fixed, self.shape = flops, held, work, fixed, shape

    def peak(self, batch):
        return self.fixed + batch * (self.held + self.work)


_ACTIVATIONS = {"ReLU": 1, "LeakyReLU": 2, "Sigmoid": 2, "Tanh": 1, "ELU": 3, "Softplus": 3, "Softmax": 4,
                "LogSoftmax": 4}
# Values per hidden unit and step that a recurrent layer holds: twice what each step's cache keeps
# (RNN h; LSTM i, f, g, o, c, tanh c; GRU h, r, z, n, ha_n), for the temporaries of the Python loop
# over time (tracemalloc: 155 MiB for the names key, against 104 MiB counting the caches alone).
_CELL_HELD = {"RNN": 2, "LSTM": 12, "GRU": 10}


def _prod(shape):
    n = 1
    for v in shape:
        n *= int(v)
    return n


def model_cost(arch, weights, sample, itemsize=4):
    """The `Cost` of one example of shape `sample` (no batch axis: (C, H, W) images, (T,) token
    ids) through `arch`, with the shapes of `weights` ({"i.name": array}) where the layers use
    them (the reference's Conv2d takes its kernel size from W, not from the architecture).
    WeightsError for a layer that does not fit its input or has no cost model here."""
    shape = tuple(int(v) for v in sample)
    flops = held = work = 0
    fixed = sum(a.size for a in weights.values()) * 2 * itemsize  # the weights and one work copy each
    for i, layer in enumerate(arch):
        t = layer.get("type")

        def fits(ok, what):
            if not ok:
                raise WeightsError(f"layer {i} ({t}): {what} does not fit its input of shape {shape} per example")

        def hp(name, default=None):
            value = layer.get(name, default)
            if value is None:
                raise WeightsError(f"layer {i} ({t}): hyperparameter {name} is missing")
            return int(value)

        def w(name, ndim):
            a = weights.get(f"{i}.{name}")
            if a is None or a.ndim != ndim or 0 in a.shape:
                got = "missing" if a is None else f"of shape {tuple(a.shape)}"
                raise WeightsError(f"layer {i} ({t}): array {i}.{name} is {got}, expected {ndim} dimensions")
            return tuple(int(v) for v in a.shape)

        n = _prod(shape)
        if t in ("Linear", "TemporalLinear"):
            D, M = w("W", 2)
            fits(len(shape) >= 1 and shape[-1] == D, f"W {(D, M)}")
            out = shape[:-1] + (M,)
            flops += _prod(shape[:-1]) * 2 * D * M + ELEMENTWISE * _prod(out)
            lw = 0
        elif t == "Conv2d":
            F, C, KH, KW = w("W", 4)
            s, p = hp("stride", 1), hp("padding", 0)
            fits(len(shape) == 3 and shape[0] == C, f"W {(F, C, KH, KW)}")
            Ho, Wo = (shape[1] + 2 * p - KH) // max(s, 1) + 1, (shape[2] + 2 * p - KW) // max(s, 1) + 1
            fits(Ho >= 1 and Wo >= 1, f"kernel {KH}x{KW} (stride {s}, padding {p})")
            out = (F, Ho, Wo)
            patches = Ho * Wo * KH * KW * C
            flops += 2 * patches * F + ELEMENTWISE * (_prod(out) + C * (shape[1] + 2 * p) * (shape[2] + 2 * p))
            held += (C * (shape[1] + 2 * p) * (shape[2] + 2 * p) if C >= 4 else patches + Ho * Wo) * itemsize
            fixed += THREADS * max(BLOCK_BYTES, patches * itemsize)
            lw = 0
        elif t == "ConvTranspose2d":
            C, F, KH, KW = w("W", 4)
            s, p, op = hp("stride", 1), hp("padding", 0), hp("output_padding", 0)
            fits(len(shape) == 3 and shape[0] == C, f"W {(C, F, KH, KW)}")
            Hf, Wf = (shape[1] - 1) * s + KH + op, (shape[2] - 1) * s + KW + op
            out = (F, Hf - 2 * p, Wf - 2 * p)
            fits(out[1] >= 1 and out[2] >= 1, f"kernel {KH}x{KW} (stride {s}, padding {p})")
            cols = F * KH * KW * shape[1] * shape[2]
            flops += 2 * C * cols + ELEMENTWISE * (cols + F * Hf * Wf + _prod(out))
            held += n * itemsize  # x as (C, N*H*W)
            lw = cols + F * Hf * Wf
        elif t in ("MaxPool2d", "AvgPool2d"):
            k = hp("kernel_size")
            s = hp("stride", k) if layer.get("stride") is not None else k
            fits(len(shape) == 3 and k >= 1 and s >= 1 and min(shape[1:]) >= k, f"kernel_size={k}")
            out = (shape[0], (shape[1] - k) // s + 1, (shape[2] - k) // s + 1)
            flops += ELEMENTWISE * k * k * _prod(out)
            held += _prod(out) * itemsize  # the argmax (at most this large)
            lw = n
        elif t in ("BatchNorm1d", "BatchNorm2d"):
            out = shape
            flops += 2 * ELEMENTWISE * n
            held += n * itemsize  # xhat
            lw = n
        elif t in _ACTIVATIONS:
            out = shape
            flops += ELEMENTWISE * _ACTIVATIONS[t] * n
            lw = n * (_ACTIVATIONS[t] - 1)
        elif t == "Dropout":  # evaluation mode: the input itself
            out, lw = shape, 0
            held -= n * itemsize  # no new output
        elif t == "Flatten":
            out, lw = (n,), 0
            held -= n * itemsize  # a view
        elif t == "Upsample2d":
            f = hp("scale_factor", 2)
            fits(len(shape) == 3 and f >= 1, f"scale_factor={f}")
            out = (shape[0], shape[1] * f, shape[2] * f)
            flops += ELEMENTWISE * _prod(out)
            lw = 0
        elif t == "Embedding":
            V, D = w("W", 2)
            fits(len(shape) == 1, f"W {(V, D)}")
            out = shape + (D,)
            flops += ELEMENTWISE * _prod(out)
            held += n * 8  # the indices
            lw = 0
        elif t in _CELL_HELD:
            D, G = w("Wx", 2)
            H, G2 = w("Wh", 2)
            fits(len(shape) == 2 and shape[1] == D and G == G2 and G % H == 0, f"Wx {(D, G)}, Wh {(H, G2)}")
            T = shape[0]
            out = (T, H)
            flops += T * (2 * (D + H) * G + ELEMENTWISE * (G + 4 * H))
            held += T * H * (1 + _CELL_HELD[t]) * itemsize  # the hidden states and each step's cell
            lw = T * G
        else:
            raise WeightsError(f"layer {i}: the grader has no cost model for {t} layers (grader/sandbox/drivers.py)")
        held += _prod(out) * itemsize  # the output, kept by the next layer's cache
        work = max(work, lw * itemsize)
        shape = out
    return Cost(flops, max(held, 0), work, fixed, shape)


def _size(n, unit, scale=1000.0):
    """'29.3 GB', '590 GFLOP': three significant figures."""
    for prefix in ("", "k", "M", "G", "T", "P", "E"):
        if n < 999.5 or prefix == "E":
            return f"{n:.3g} {prefix}{unit}"
        n /= scale
    return f"{n:.3g} {unit}"


def plan(cost, count, batch, *, what, extra_flops=0.0, extra_bytes=0, spec=None):
    """The batch size for evaluating `count` examples (`what`: '10000 CIFAR-10 images'): `batch`,
    or fewer so that the estimated peak stays under the memory bound. WeightsError, with one line
    saying what the model needs, when the whole evaluation's FLOPs exceed their bound or one
    example alone does not fit. `extra_*`: the driver's own per-example work (losses, errors);
    `spec` may tighten the bounds (`max_flops`, `max_bytes`), never loosen them."""
    spec = spec or {}
    max_flops = min(float(spec.get("max_flops") or MAX_EVAL_FLOPS), MAX_EVAL_FLOPS)
    max_bytes = min(int(spec.get("max_bytes") or MAX_EVAL_BYTES), MAX_EVAL_BYTES)
    total = (cost.flops + extra_flops) * count
    if total > max_flops:
        raise CostError(f"the model needs {_size(total, 'FLOP')} to evaluate on {what} (limit "
                           f"{_size(max_flops, 'FLOP')}): it is too costly to grade; make it smaller")
    per = cost.held + cost.work + extra_bytes
    one = cost.fixed + per
    if one > max_bytes:
        raise CostError(f"the model needs {_size(one, 'B')} of memory for a single example (limit "
                           f"{_size(max_bytes, 'B')}): it is too large to grade; make it smaller")
    b = max(1, min(int(batch), int(count) or 1, (max_bytes - cost.fixed) // max(per, 1)))
    return Plan(b, total, cost.fixed + b * per)


class Plan(int):
    """The batch size `plan` chose (an int), with the evaluation's `flops` and estimated `peak` bytes."""

    def __new__(cls, batch, flops, peak):
        self = super().__new__(cls, batch)
        self.flops, self.peak = flops, peak
        return self


def plan_call(name, spec, inputs):
    """The `Plan` of a call to one of the model drivers (predict, squared_error, text_nll,
    generate), computed as the driver computes it before it runs anything; WeightsError when the
    driver would refuse the model."""
    arch = json.loads(spec["arch"])
    if name == "predict":
        return _plan_images(arch, inputs["weights"], inputs["x"], spec, 500, "images")
    if name == "squared_error":
        return _plan_errors(arch, inputs["weights"], inputs["x"], spec)
    if name == "text_nll":
        x = inputs["inputs"]
        return _plan_text(arch, inputs["weights"], len(x), x.shape[1], spec["chunk"], spec["batch"], spec,
                          "held-out rows")
    if name == "generate":
        return _plan_text(arch, inputs["weights"], spec["n"], spec["length"], 1, spec["n"], spec, "samples")
    raise ValueError(f"{name} is not a model driver")


def _plan_errors(arch, weights, x, spec):
    values = _prod(x.shape[1:])  # the errors are computed in float64: 3 arrays of this size per sample
    return _plan_images(arch, weights, x, spec, 500, "images", 3 * ELEMENTWISE * values, 3 * 8 * values)


def _plan_images(arch, weights, x, spec, default_batch, what, extra_flops=0.0, extra_bytes=0):
    itemsize = max(4, x.dtype.itemsize if x.dtype.kind == "f" else 4)
    cost = model_cost(arch, weights, x.shape[1:], itemsize)
    return plan(cost, len(x), spec.get("batch_size", default_batch), what=f"{len(x)} {what}",
                extra_flops=extra_flops, extra_bytes=extra_bytes, spec=spec)


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
    x = inputs["x"]
    bs = _plan_images(arch, inputs["weights"], x, spec, 500, "images")
    model = build_model(resolve, arch, spec.get("modules", ["layers"]))
    params, state = split_weights(arch, inputs["weights"])
    preds = []
    for i in range(0, len(x), bs):
        scores, _ = model.forward(x[i:i + bs], params, train=False, rng=None, state=state)
        preds.append(scores.argmax(axis=1))
    return {"pred": xp_of(x).concatenate(preds)}


@driver
def squared_error(resolve, spec, inputs):
    """Each sample's summed squared error between a trained model's outputs (evaluation mode, in
    batches) and `targets` (default: the inputs `x`, as for an auto-encoder), both flattened per
    sample. Outputs: `sse` (N,) float64; `shape`, the output shape of the first batch; `head`,
    the outputs of the first `spec["keep"]` samples as the model returned them (for figures).
    When an output does not have its targets' size per sample, only `shape` comes back."""
    arch = json.loads(spec["arch"])
    x = inputs["x"]
    targets = inputs.get("targets", x)
    bs = _plan_errors(arch, inputs["weights"], x, spec)
    model = build_model(resolve, arch, spec.get("modules", ["layers"]))
    params, state = split_weights(arch, inputs["weights"])
    xp = xp_of(x)
    out = {}
    sse = []
    for i in range(0, len(x), bs):
        y, _ = model.forward(x[i:i + bs], params, train=False, rng=None, state=state)
        t = targets[i:i + bs].reshape(len(targets[i:i + bs]), -1)
        shape = getattr(y, "shape", None)
        if i == 0:
            out["shape"] = np.array([-1] if shape is None else list(shape), dtype=np.int64)
            out["head"] = y[:spec.get("keep", 0)]
        if shape is None or len(shape) == 0 or shape[0] != len(t) or y.size != t.size:
            return {"shape": np.array([-1] if shape is None else list(shape), dtype=np.int64)}
        d = y.reshape(len(t), -1).astype(xp.float64) - t
        sse.append((d * d).sum(axis=1))
    out["sse"] = xp.concatenate(sse)
    return out


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
    params = _copy(inputs["params"])
    h_next, cache = cell.step(inputs["x"], _pack(inputs, "h"), params)
    out = _unpack(h_next, "h_next")
    if spec.get("backward", True) and all(
            _shape_ok(value, inputs["dh" + key[1:]], out, "c_next" if key.endswith("_c") else "h_next")
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

    return {"f": _perturb_all(f, inputs, spec)}


def _perturb_all(f, inputs, spec):
    """{key with "." for "/": rows} for every key in `spec["wrt"]`, at the flat element indices
    `spec["index"][key]` (every element when absent)."""
    index = spec.get("index", {})
    return {key.replace("/", "."): _perturb_tree(f, inputs, key, spec["h"], index.get(key))
            for key in spec["wrt"]}


def _perturb_tree(f, inputs, key, h, index=None):
    """Rows f(inputs with element i of `key` moved by +h, -h), for every element i of `index`
    (default: all)."""
    *parents, leaf = key.split("/")

    def moved(i, sign):
        data = _copy(inputs)
        node = data
        for p in parents:
            node = node[p]
        node[leaf] = _moved(node[leaf], i, sign * h)
        return data

    node = inputs
    for p in parents:
        node = node[p]
    xp = xp_of(node[leaf])
    index = range(node[leaf].size) if index is None else index
    return xp.stack([xp.asarray(f(moved(int(i), s))) for i in index for s in (1.0, -1.0)])


# --------------------------------------------------------------------------- plain functions
@driver
def function(resolve, spec, inputs):
    """Call a function with inputs `spec["args"]` (names, in order) and `spec["kwargs"]`;
    outputs `out/0`, `out/1`, ... for a tuple result (`out` otherwise) and `after/...`."""
    fn = resolve(spec["module"], spec["name"])
    args = [_copy(inputs[a]) if isinstance(inputs[a], dict) else inputs[a] for a in spec["args"]]
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

    return {"f": _perturb_all(f, inputs, spec)}


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


# --------------------------------------------------------------------------- language models
def _log_softmax(scores, xp):
    shifted = scores - scores.max(axis=-1, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=-1, keepdims=True))


def _plan_text(arch, weights, rows, length, chunk, batch, spec, what):
    """Rows per batch for a text model read `chunk` tokens at a time over `rows` rows of `length`
    tokens (`plan`); the scores' log-softmax is taken in float64 (4 arrays of the scores' size)."""
    chunk = max(1, min(int(chunk), int(length)))
    per_token = model_cost(arch, weights, (1,))
    per_chunk = model_cost(arch, weights, (chunk,))
    V = per_chunk.shape[-1] if per_chunk.shape else 1
    cost = Cost(per_token.flops * length, per_chunk.held, per_chunk.work, per_chunk.fixed, per_chunk.shape)
    return plan(cost, rows, batch, what=f"{rows} {what} of {length} characters", spec=spec,
                extra_flops=4 * ELEMENTWISE * V * length, extra_bytes=4 * 8 * V * chunk)


@driver
def text_nll(resolve, spec, inputs):
    """Summed negative log-likelihood (nats) of `targets` under a trained model, read in chunks of
    `chunk` steps with the model's state carried across chunks; targets < 0 are ignored.

    inputs: `weights`, `inputs` int (S, L), `targets` int (S, L). Outputs `nll` and `count`.
    """
    arch = json.loads(spec["arch"])
    x, y = inputs["inputs"], inputs["targets"]
    rows = _plan_text(arch, inputs["weights"], len(x), x.shape[1], spec["chunk"], spec["batch"], spec,
                      "held-out rows")
    model = build_model(resolve, arch, spec.get("modules", ["layers"]))
    params, _ = split_weights(arch, inputs["weights"])
    xp = xp_of(x)
    total, count = 0.0, 0
    for b in range(0, len(x), rows):
        state = [{} for _ in arch]
        for t in range(0, x.shape[1], spec["chunk"]):
            xs, ys = x[b:b + rows, t:t + spec["chunk"]], y[b:b + rows, t:t + spec["chunk"]]
            scores, _ = model.forward(xs, params, train=False, rng=None, state=state)
            logp = _log_softmax(scores.astype(xp.float64), xp)
            keep = ys >= 0
            picked = xp.take_along_axis(logp, xp.where(keep, ys, 0)[..., None], axis=-1)[..., 0]
            total += float(-(picked * keep).sum())
            count += int(keep.sum())
    return {"nll": np.array(total), "count": np.array(count)}


@driver
def generate(resolve, spec, inputs):
    """Sample `n` sequences of up to `length` tokens from a trained model with `sample_next`,
    starting from token `start` (stopping a row at token `stop` when given): output `tokens`."""
    arch = json.loads(spec["arch"])
    _plan_text(arch, inputs["weights"], spec["n"], spec["length"], 1, spec["n"], spec, "samples")
    model = build_model(resolve, arch, spec.get("modules", ["layers"]))
    params, _ = split_weights(arch, inputs["weights"])
    sample_next = resolve(spec["sampler_module"], "sample_next")
    xp = xp_of(inputs["weights"][next(iter(inputs["weights"]))])
    rng = make_rng(spec["seed"], xp.zeros(1))
    tokens = xp.full((spec["n"], 1), spec["start"], dtype=xp.int64)
    state = [{} for _ in arch]
    out = []
    for _ in range(spec["length"]):
        scores, _ = model.forward(tokens, params, train=False, rng=None, state=state)
        tokens = xp.asarray(sample_next(scores[:, -1], rng=rng, temperature=spec.get("temperature", 1.0)))
        tokens = tokens.reshape(-1, 1).astype(xp.int64)
        out.append(tokens[:, 0])
    return {"tokens": xp.stack(out, axis=1)}
