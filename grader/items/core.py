"""Graded items: an id, points, visibility, the worker calls it needs and the checks it runs.

An item builds its calls from a seeded generator (`calls`), the engine runs them on the
student's code in a worker and on the reference in the trusted parent, and the item turns the
two into `CheckResult`s (`evaluate`). Items own points; checks do not.
"""
import json
from dataclasses import dataclass, field

import numpy as np

from grader.items import checks as C
from grader.items.base import TIMEOUT_FACTOR, ComparedItem, Item, Mutant, TrustedItem  # noqa: F401
from grader.items.checks import CheckResult
from grader.sandbox.drivers import STUDY_BINS
from grader.reports.figures import Figure
from grader.sandbox.runner import Call

H = 1e-6  # central-difference step for float64 gradient checks


# --------------------------------------------------------------------------- helpers
TERMS = ("W", "w")  # inputs that may enter an expected gradient as an additive term (2 reg W)


def pair(name, got, expected, alternatives=(), path=(), **opts):
    """A (name, got, expected, opts, [(hint, alternative)]) tuple for `compare`, looked up by key path.

    The case's weights (`TERMS`, as the reference's driver returned them under `after/`) of the
    expected value's shape go to `checks.mismatch` as `terms`: a factor on the data term of a
    regularised gradient is then named."""
    exp = dig(expected, path)
    if "terms" not in opts and exp is not None:
        after = dig(expected, ("after",)) or {}
        terms = {k: v for k, v in {**(after.get("params") or {}), **after}.items()
                 if k in TERMS and isinstance(v, np.ndarray) and v.dtype.kind == "f" and v.shape == np.shape(exp)}
        if terms:
            opts["terms"] = terms
    return name, dig(got, path), exp, opts, [(hint, dig(alt, path)) for hint, alt in alternatives]


# Loosest agreement with a known bug's output in a family checked for finiteness only (rtol inf):
# its finite entries must still match for the bug to be named.
ALT_RTOL = 1e-2


def compare(check, pairs):
    """One check over several `pair`s: passes when all agree (`checks.mismatch`). When one fails,
    a known bug is named when the student's output matches that bug's output on that pair
    (non-finite entries at the same places with the same values, finite ones within tolerance),
    however small the error against the reference; else the generic pattern hint. Values only:
    dtypes are the `dtypes` check's business."""
    for name, got, expected, opts, alts in pairs:
        opts = {"check_dtype": False, **opts}
        msg = C.mismatch(name, got, expected, **opts, hints=False)
        if msg:
            for hint, alt in alts:
                if alt is not None and matches_bug(name, got, alt, opts):
                    return CheckResult(check, False, f"{msg}; likely bug: {hint}")
            return CheckResult(check, False, C.mismatch(name, got, expected, **opts))
    return CheckResult(check, True)


def matches_bug(name, got, alt, opts):
    """Whether the student's output agrees with a known bug's (an inf or NaN of the bug's matches
    only the same value in the same place; a finiteness-only family still compares finite entries)."""
    opts = {k: v for k, v in opts.items() if k != "terms"}
    if not np.isfinite(opts.get("rtol", 0.0)):
        opts["rtol"] = ALT_RTOL
    return C.mismatch(name, got, alt, **opts, hints=False) is None


def dtypes(check, pairs):
    """Every output has the dtype of its expected value (float32 in, float32 out). Gated: it
    speaks only once the values are right."""
    for name, got, expected, _, _ in pairs:
        if got is None or expected is None or isinstance(got, C.WrongType):
            continue
        g, e = np.asarray(got).dtype, np.asarray(expected).dtype
        if g != e:
            return CheckResult(check, False, f"{name}: dtype {g}, expected {e} (outputs and gradients keep "
                                             "the dtype of the input: no silent float64 promotion)", gated=True)
    return CheckResult(check, True, gated=True)


def dig(tree, path):
    """The value at key path `path` of a nested dict, or None where the path does not exist."""
    for key in path:
        if not isinstance(tree, dict) or key not in tree:
            return None
        tree = tree[key]
    return tree


def forward_broken(got, expected, tag, path=("0", "y")):
    """For a backward item: why this case's failure is the forward's (an output of the wrong
    shape, on which the grader did not run backward, or non-finite values where the reference's are
    finite), so the backward is not blamed for it; None otherwise."""
    node = dig(got, path[:-1]) if len(path) > 1 else got
    shape = dig(node, ("forward_shape",))
    if shape is not None:
        what = ["y", "h_next", "c_next"][int(dig(node, ("forward_shape_of",)) or 0)]
        shown = "not an array" if list(np.ravel(shape)) == [-1] else f"shape {tuple(int(v) for v in np.ravel(shape))}"
        want = np.shape(dig(expected, path[:-1] + (what,)) if len(path) > 1 else expected.get(what))
        return (f"[{tag}]: your forward returned {what} of {shown}, but the contract says {tuple(want)}: the "
                "grader feeds backward an upstream gradient of the contract's shape, so fix forward first")
    y, e = dig(got, path), dig(expected, path)
    if y is None or e is None or isinstance(y, C.WrongType) or np.shape(y) != np.shape(e):
        return None
    y, e = np.asarray(y, dtype=np.float64), np.asarray(e, dtype=np.float64)
    if np.isfinite(e).all() and not np.isfinite(y).all():
        return f"[{tag}]: your forward pass returns non-finite values on this case; fix forward first"
    return None


MAX_PERTURBED = 24  # elements of each array moved in a numerical gradient check


def perturbation(driver, spec, inputs, wrt, rng, case):
    """A `<driver>` call (a *_perturbed driver) for central differences of case `case` at up to
    `MAX_PERTURBED` elements of each key in `wrt` (chosen by `rng`; all of a small array)."""
    index = {}
    for key in wrt:
        n = int(np.size(dig(inputs, key.split("/"))))
        index[key] = sorted(int(i) for i in rng.choice(n, MAX_PERTURBED, replace=False)) if n > MAX_PERTURBED \
            else list(range(n))
    return Call(driver, {**spec, "h": H, "wrt": list(wrt), "index": index, "case": case}, inputs)


def gradchecks(calls, got, upstream, analytic):
    """The numerical gradient check over every perturbation call: `upstream(i)` is case i's
    upstream gradient, `analytic(i)` its {key: student gradient}."""
    name = "numerical gradient check (float64)"
    for j, call in enumerate(calls):
        if not call.driver.endswith("_perturbed"):
            continue
        i = call.spec["case"]
        result = gradcheck(call, got[j], upstream(i), analytic(i), calls[i].spec.get("tag", ""))
        if not result.passed:
            return C.gated(result)
    return CheckResult(name, True, gated=True)


def label(path):
    """A student-facing name for an output path: ("0", "grads", "W") -> "dW", ("0", "y") -> "y",
    ("0", "state", "c") -> 'state["c"] after the call'."""
    if len(path) > 1 and path[-2] == "grads":
        return "d" + path[-1]
    if len(path) > 1 and path[-2] == "state":
        return f'state["{path[-1]}"] after the call'
    return path[-1]


def per_call(alternatives, i):
    return [(hint, alt[i]) for hint, alt in alternatives if alt[i] is not None]


def purity_of(calls, got, cases, skip=()):
    """Every input of every case comes back unchanged (`after/...`), except the `skip` keys."""
    for i in cases:
        sent = {k: v for k, v in calls[i].inputs.items() if k not in skip}
        result = C.same_tree("does not modify its inputs", got[i].get("after", {}), sent, "input")
        if not result.passed and result.message.startswith("input['state']"):
            result = CheckResult(result.name, False, result.message.replace(
                "(work on copies: do not write into inputs or params)",
                "(replace the state's arrays with new ones: do not write into them)"))
        if not result.passed:
            return result
    return CheckResult("does not modify its inputs", True)


def randn(rng, shape, dtype=np.float64, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def away_from_zero(rng, shape, dtype=np.float64, gap=0.05):
    """Normal samples with |x| >= gap, so kinks (ReLU at 0) never sit inside a finite difference."""
    x = rng.standard_normal(shape)
    x = np.where(np.abs(x) < gap, np.sign(x + 1e-12) * (gap + np.abs(x)), x)
    return x.astype(dtype)


CASES = (  # (tag, shape, dtype): random, batch of one with odd sizes, float32
    ("random", (4, 5), np.float64),
    ("batch of 1, odd width", (1, 7), np.float64),
    ("float32", (3, 6), np.float32),
)


def as_float32(x):
    """Floating arrays as float32; integer arrays (labels, indices) unchanged."""
    if isinstance(x, dict):
        return {k: as_float32(v) for k, v in x.items()}
    return x.astype(np.float32) if np.asarray(x).dtype.kind == "f" else x


F32 = ", float32"  # tag suffix of the float32 copy of a float64 case
# The float32 copy of a scaled case (inputs x1000) is ill-conditioned in float32 (cancellation in
# sums of terms a thousand times larger than the result), so its values only have to be finite
# and of the right shape; its dtype is checked as everywhere.
SCALED_F32 = {"rtol": np.inf}


def opts_for(tag, scaled_tags):
    return SCALED_F32 if tag.endswith(F32) and tag[:-len(F32)] in scaled_tags else {}


# --------------------------------------------------------------------------- layers
@dataclass(frozen=True)
class LayerItem(ComparedItem):
    """Forward or backward of a layer against the reference, with a numerical gradient check.

    `make(rng, shape, dtype) -> (kwargs, x, params)` builds one case for each (tag, shape, dtype)
    of `shapes`; `edge` adds float64 cases (tag, shape, scale) with inputs scaled by `scale` (large
    logits and the like); `special` adds float64 cases (tag, fn(rng) -> (kwargs, x, params)) such
    as inputs exactly at a kink. Every float64 case also runs as a float32 copy, and every float64
    case whose tag is not in `no_gradcheck` (ties, kinks: finite differences are undefined there)
    gets a numerical gradient check. `out_shape` gives the output shape for the upstream gradient
    (default: that of x).
    """
    name: str = ""
    part: str = "forward"  # or "backward"
    make: object = None
    edge: tuple = ()
    special: tuple = ()
    no_gradcheck: tuple = ()
    module: str = "layers"
    shapes: tuple = CASES
    out_shape: object = None
    state: object = None  # (rng, kwargs, x) -> initial state dict (recurrent layers); compared after

    def cases(self, rng):
        """[(tag, kwargs, x, params)]: the float64 families, then their float32 copies."""
        out = []
        for tag, shape, dtype in self.shapes:
            out.append((tag, *self.make(rng, shape, dtype)))
        for tag, shape, scale in self.edge:
            kwargs, x, params = self.make(rng, shape, np.float64)
            out.append((tag, kwargs, x * scale, params))
        for tag, make in self.special:
            out.append((tag, *make(rng)))
        out += [(tag + F32, kwargs, as_float32(x), as_float32(params))
                for tag, kwargs, x, params in list(out) if C.case_dtype({"x": x, "params": params}) == np.float64]
        return out

    def calls(self, rng):
        calls = []
        backward = self.part == "backward"
        for tag, kwargs, x, params in self.cases(rng):
            inputs = {"x": x, "params": params}
            if self.state:
                inputs["state"] = as_float32(self.state(rng, kwargs, x)) if tag.endswith(F32) \
                    else self.state(rng, kwargs, x)
            step = {"x": "x", "dy": None, "train": False}
            if backward:
                y_shape = self.out_shape(kwargs, x) if self.out_shape else x.shape
                inputs["dy"] = randn(rng, y_shape, C.case_dtype(inputs))
                step["dy"] = "dy"
            spec = {"module": self.module, "name": self.name, "kwargs": kwargs, "steps": [step], "tag": tag}
            if self.state and not inputs["state"]:
                spec["empty_state"] = True
            calls.append(Call("layer", spec, inputs))
        if backward:
            for i, call in enumerate(list(calls)):
                tag = call.spec["tag"]
                if C.case_dtype(call.inputs) != np.float64 or tag in self.no_gradcheck \
                        or tag in {t for t, _ in self.special}:
                    continue
                wrt = ["x"] * (call.inputs["x"].dtype.kind == "f") + [f"params/{k}" for k in call.inputs["params"]]
                spec = {"module": self.module, "name": self.name, "kwargs": call.spec["kwargs"]}
                calls.append(perturbation("layer_perturbed", spec, {k: v for k, v in call.inputs.items() if k != "dy"},
                                          wrt, rng, i))
        return calls

    def evaluate(self, calls, got, expected, alternatives):
        cases = [i for i, c in enumerate(calls) if c.driver == "layer"]
        backward = self.part == "backward"

        scaled = {t for t, _, _ in self.edge}

        def pairs(keys):
            return [pair(f"{label(k)} [{calls[i].spec['tag']}]", got[i], expected[i], per_call(alternatives, i),
                         path=k, **opts_for(calls[i].spec["tag"], scaled)) for i in cases for k in keys]

        integer_x = calls[0].inputs["x"].dtype.kind != "f"
        out_keys = [("0", "y")] if not backward else [("0", "dx")] * (not integer_x)
        if self.state and not backward:
            out_keys += [("0", "state", k) for k in calls[0].inputs["state"]]
        grad_keys = [("0", "grads", k) for k in calls[0].inputs.get("params", {})] if backward else []
        what = "output" if not backward else ("dx" if not integer_x else "gradients")
        results = [self._values(f"{what} matches the reference", calls, got, expected, cases, pairs(out_keys or grad_keys))]
        if grad_keys and out_keys:
            results.append(self._values("parameter gradients match the reference", calls, got, expected, cases,
                                        pairs(grad_keys)))
        if backward:
            results.append(gradchecks(calls, got, lambda i: calls[i].inputs["dy"], lambda i: {
                "x": dig(got[i], ("0", "dx")),
                **{f"params/{k}": dig(got[i], ("0", "grads", k)) for k in calls[i].inputs.get("params", {})}}))
        results.append(dtypes("float32 in, float32 out", pairs(out_keys + grad_keys)))
        results.append(C.gated(purity_of(calls, got, cases)))
        return results

    def _values(self, check, calls, got, expected, cases, pairs_):
        """A value check; in a backward item, a case that fails because its forward overflowed is
        named as such, so the backward code is not blamed for it."""
        result = compare(check, pairs_)
        if result.passed or self.part != "backward":
            return result
        for i in cases:
            mine = [p for p in pairs_ if p[0].endswith(f"[{calls[i].spec['tag']}]")]
            broken = forward_broken(got[i], expected[i], calls[i].spec["tag"])
            if broken and not compare(check, mine).passed:
                return CheckResult(check, False, broken)
        return result


# --------------------------------------------------------------------------- losses
@dataclass(frozen=True)
class LossItem(ComparedItem):
    """Loss value and gradient against the reference, a gradient check, dtype and purity.

    `make(rng, n, c, dtype) -> (scores, target)`; `edge`: float64 score scales to add; `special`:
    (tag, fn(rng) -> (scores, target)) float64 cases without a gradient check (kinks). Every
    float64 case also runs as a float32 copy.
    """
    name: str = ""
    make: object = None
    kwargs: dict = field(default_factory=dict)
    edge: tuple = ()
    special: tuple = ()
    module: str = "losses"

    def calls(self, rng):
        cases = [("random", 5, 4, np.float64, 1.0), ("batch of 1", 1, 3, np.float64, 1.0),
                 ("float32", 4, 3, np.float32, 1.0)]
        cases += [(f"scores x{s:g}", 4, 5, np.float64, s) for s in self.edge]
        made = []
        for tag, n, c, dtype, scale in cases:
            scores, target = self.make(rng, n, c, dtype)
            made.append((tag, scores * scale, target, True))
        made += [(tag, *make(rng), False) for tag, make in self.special]
        made += [(tag + F32, as_float32(s), as_float32(t), False) for tag, s, t, _ in list(made)
                 if s.dtype == np.float64]
        calls = []
        for tag, scores, target, _ in made:
            spec = {"module": self.module, "name": self.name, "kwargs": self.kwargs, "tag": tag}
            calls.append(Call("loss", spec, {"scores": scores, "target": target}))
        for i, (tag, scores, _, check) in enumerate(list(made)):
            if check and scores.dtype == np.float64:
                spec = {k: v for k, v in calls[i].spec.items() if k != "tag"}
                calls.append(perturbation("loss_perturbed", spec, dict(calls[i].inputs), ["scores"], rng, i))
        return calls

    def evaluate(self, calls, got, expected, alternatives):
        cases = [i for i, c in enumerate(calls) if c.driver == "loss"]

        scaled = {f"scores x{s:g}" for s in self.edge}

        def pairs(key):
            return [pair(f"{key} [{calls[i].spec['tag']}]", got[i], expected[i], per_call(alternatives, i),
                         path=(key,), **opts_for(calls[i].spec["tag"], scaled)) for i in cases]

        results = [compare("loss matches the reference", pairs("loss")),
                   compare("dscores matches the reference", pairs("dscores"))]
        results.append(gradchecks(calls, got, lambda i: np.ones(()), lambda i: {"scores": got[i].get("dscores")}))
        results.append(dtypes("float32 in, float32 out", pairs("loss") + pairs("dscores")))
        results.append(C.gated(purity_of(calls, got, cases)))
        return results


# --------------------------------------------------------------------------- optimizers
@dataclass(frozen=True)
class OptimizerItem(ComparedItem):
    """A trajectory of several steps against the reference, with state, purity and dtype.

    Cases: float64 and float32 gradients of unit scale and, with `small_grad`, float64 gradients
    of that scale (the optimizer's default epsilon), where the place of epsilon in the formula
    decides the step: only the contract's placement passes, on every seed.
    """
    name: str = ""
    kwargs: dict = field(default_factory=dict)
    steps: int = 5
    small_grad: float = 0.0

    def calls(self, rng):
        calls = []
        cases = [("float64", np.float64, 1.0), ("float32", np.float32, 1.0)]
        if self.small_grad:
            cases.append((f"gradients of size {self.small_grad:g} (where epsilon matters)", np.float64, self.small_grad))
        for tag, dtype, scale in cases:
            params = {"W": randn(rng, (3, 4), dtype), "b": randn(rng, (4,), dtype)}
            grads = [{k: randn(rng, v.shape, dtype, scale) for k, v in params.items()} for _ in range(self.steps)]
            spec = {"module": "optim", "name": self.name, "kwargs": self.kwargs, "tag": tag}
            calls.append(Call("optimizer", spec, {"params": params, "grads": {str(k): g for k, g in enumerate(grads)}}))
        return calls

    def evaluate(self, calls, got, expected, alternatives):
        def pairs(i):
            return [pair(f"{k} after step {t + 1} [{calls[i].spec['tag']}]", got[i], expected[i],
                         per_call(alternatives, i), path=("traj", str(t), k))
                    for t in range(self.steps) for k in calls[i].inputs["params"]]
        every = [p for i in range(len(calls)) for p in pairs(i)]
        purity = C.same_tree("does not modify params, grads or state", got[0].get("after", {}),
                             {"params": calls[0].inputs["params"],
                              "grads": calls[0].inputs["grads"]}, "")
        if purity.passed:
            purity = C.same_tree(purity.name, got[0].get("state_after", {}), got[0].get("state_before", {}), "state")
        return [compare(f"{self.steps}-step trajectory matches the reference", every),
                dtypes("float32 params stay float32", every),
                C.gated(purity)]


# --------------------------------------------------------------------------- initialisation
@dataclass(frozen=True)
class InitItem(ComparedItem):
    """Statistics of a large draw: shape, dtype, mean, variance, distribution shape, seeding."""
    name: str = ""
    distribution: str = "uniform"  # or "normal"
    needs_reference: bool = False

    def calls(self, rng):
        seed = int(rng.integers(1 << 30))
        spec = {"module": "init", "name": self.name, "fan_in": 300, "fan_out": 200}
        return [Call("initializer", {**spec, "seed": seed}, {}),
                Call("initializer", {**spec, "seed": seed}, {}),
                Call("initializer", {**spec, "seed": seed + 1}, {}),
                Call("initializer", {**spec, "seed": seed, "dtype": "float32", "fan_in": 30, "fan_out": 20}, {})]

    def evaluate(self, calls, got, expected, alternatives):
        w, again, other, w32 = (g.get("w") for g in got)
        fan_in, fan_out = calls[0].spec["fan_in"], calls[0].spec["fan_out"]
        msg = C.shape_dtype("w", w, (fan_in, fan_out), np.float64) or C.shape_dtype("w [float32]", w32, (30, 20), np.float32)
        shape = CheckResult("shape and dtype", msg is None, msg or "")
        if not shape.passed:
            return [shape, CheckResult("variance", False, "skipped: wrong shape"),
                    CheckResult("distribution", False, "skipped: wrong shape"),
                    CheckResult("uses the rng it is given", False, "skipped: wrong shape")]
        w = w.astype(np.float64)
        if self.distribution == "uniform":
            bound = np.sqrt(6.0 / (fan_in + fan_out))
            var = bound ** 2 / 3
            inside = np.mean(np.abs(w) < bound / 2)
            dist_ok, dist_msg = np.abs(w).max() <= bound * (1 + 1e-9) and abs(inside - 0.5) < 0.02, \
                f"max |w| = {np.abs(w).max():.4g} (bound {bound:.4g}), fraction below bound/2 = {inside:.3f} (uniform: 0.5)"
        else:
            var = 2.0 / fan_in
            inside = np.mean(np.abs(w) < np.sqrt(var))
            dist_ok, dist_msg = abs(inside - 0.6827) < 0.015, \
                f"fraction within one std = {inside:.3f} (normal: 0.683)"
        got_var, mean = float(w.var()), float(w.mean())
        var_ok = abs(got_var / var - 1) < 0.05 and abs(mean) < 5 * np.sqrt(var / w.size)
        seeded = np.array_equal(w, again) and not np.array_equal(w, other)
        return [C.gated(shape),
                CheckResult("variance", var_ok, "" if var_ok else
                            f"variance {got_var:.4g} and mean {mean:.3g}, expected variance {var:.4g} and mean 0 "
                            f"(fan_in={fan_in}, fan_out={fan_out})"),
                CheckResult("distribution", bool(dist_ok), "" if dist_ok else dist_msg),
                CheckResult("uses the rng it is given", seeded, "" if seeded else
                            "the same seed must give the same draw and another seed another draw: "
                            "draw from `rng`, not from np.random", gated=True)]


# --------------------------------------------------------------------------- initialisation study
STUDY_WSTD_RTOL = 0.02  # a W's std over 250,000 entries varies by about 0.1% between draws


def contract_std(init, fan_in, fan_out):
    """The std of an entry of `init(fan_in, fan_out)` as the contract defines it."""
    return {"xavier_uniform": np.sqrt(2.0 / (fan_in + fan_out)), "he_normal": np.sqrt(2.0 / fan_in)}[init]


def contract_draw(init, rng, fan_in, fan_out):
    """A draw from `init`'s distribution as the contract defines it (the reference's curve)."""
    if init == "xavier_uniform":
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-bound, bound, (fan_in, fan_out))
    return rng.standard_normal((fan_in, fan_out)) * contract_std(init, fan_in, fan_out)


_STUDY_CACHE = {}


def tanh_network(x, weights):
    """Per-layer (mean, std) of the activations and their counts over `STUDY_BINS`, of the
    deep network h <- tanh(h @ W) (the reference's Linear with b = 0, then Tanh), in float64, in
    the trusted process."""
    h, stats, hist = np.asarray(x, dtype=np.float64), [], []
    for W in weights:
        h = np.tanh(h @ np.asarray(W, dtype=np.float64))
        stats.append((h.mean(), h.std()))
        hist.append(np.histogram(np.where(np.isfinite(h), h, 2.0), bins=STUDY_BINS)[0])
    return np.array(stats, dtype=np.float64).reshape(-1, 2), np.array(hist, dtype=np.int64).reshape(-1, len(STUDY_BINS) - 1)


@dataclass(frozen=True)
class InitStudyItem(ComparedItem):
    """The lecture's initialisation study: activation statistics, layer by layer, of a deep tanh
    network (`depth` layers of Linear(width, width), b = 0, then Tanh) fed N(0, 1) inputs, whose
    weights come from the student's `init`.

    It grades the initialiser and runs no other code of the student's: the worker only draws the
    `depth` weight matrices (`initializer` calls, one seed per layer); the network runs in the
    trusted process with the reference's math (Linear with b = 0, then Tanh), on those weights and,
    for the reference's curve, on a draw from the contract's distribution (`contract_draw`). The
    contract fixes the distribution, not how `init` consumes `rng`, so each layer's activation std
    must be within `rtol` of the reference's (the mean within `rtol` times that std); `rtol` is set
    from the spread between random draws (README: initialisation study). A correct initialiser
    passes whatever the student's `Linear` and `Tanh` do. The `std * randn` networks of `stds`
    (the lecture's vanishing and saturating activations) are drawn in the figure, the reference's
    alone: nothing of the student's runs in them, so they are no check.
    """
    init: str = "xavier_uniform"
    init_module: str = "init"
    module: str = "layers"  # unused: the study runs none of the student's layers
    stds: tuple = (0.01, 1.0)
    width: int = 500
    depth: int = 10
    batch: int = 1000
    rtol: float = 0.05
    needs_reference: bool = False

    def calls(self, rng):
        x_seed, w_seed = int(rng.integers(1 << 30)), int(rng.integers(1 << 30))
        spec = {"module": self.init_module, "name": self.init, "fan_in": self.width, "fan_out": self.width,
                "x_seed": x_seed}
        return [Call("initializer", {**spec, "seed": w_seed + k, "tag": f"layer {k + 1}"}, {})
                for k in range(self.depth)]

    def _inputs(self, calls):
        return np.random.default_rng(calls[0].spec["x_seed"]).standard_normal((self.batch, self.width))

    def _reference_curve(self, calls):
        key = (self.init, self.width, self.depth, self.batch, tuple(c.spec["seed"] for c in calls), calls[0].spec["x_seed"])
        if key not in _STUDY_CACHE:  # the same for every submission graded with one salt
            x = self._inputs(calls)
            ref = tanh_network(x, [contract_draw(self.init, np.random.default_rng(c.spec["seed"]), self.width,
                                                 self.width) for c in calls])
            context = []
            for std in self.stds:
                rng = np.random.default_rng(calls[0].spec["seed"] + 7919)
                context.append((std, tanh_network(x, [std * rng.standard_normal((self.width, self.width))
                                                      for _ in calls])))
            if len(_STUDY_CACHE) >= 16:
                _STUDY_CACHE.clear()
            _STUDY_CACHE[key] = (ref, context)
        return _STUDY_CACHE[key]

    def evaluate(self, calls, got, expected, alternatives):
        (ref, ref_hist), context = self._reference_curve(calls)
        ws, broken = [], ""
        for k, g in enumerate(got):
            w = g.get("w")
            if type(w) is not np.ndarray or w.shape != (self.width, self.width) or w.dtype.kind != "f":
                shown = f"shape {w.shape} and dtype {w.dtype}" if type(w) is np.ndarray else \
                    f"a {w.type_name}" if isinstance(w, C.WrongType) else "nothing"
                broken = (f"[{self.init}] layer {k + 1}: your {self.init}({self.width}, {self.width}) returned "
                          f"{shown}, expected a float array of shape ({self.width}, {self.width})")
                break
            if not np.isfinite(w).all():
                broken = f"[{self.init}] layer {k + 1}: your {self.init} returned non-finite weights"
                break
            ws.append(w)
        mine, hist = tanh_network(self._inputs(calls), ws) if not broken else (None, None)
        want = contract_std(self.init, self.width, self.width)
        wstd = np.array([w.astype(np.float64).std() for w in ws]) if not broken else None
        scale = broken or self._scale(wstd, want)
        drift = broken or self._differs(mine, ref)
        if drift and not broken:
            drift += ("; the scale of your weights is off (see above)" if scale else
                      "; your weights have the contract's std, yet the activations drift from the reference's: "
                      "the entries of W are not independent draws (draw every entry on its own from rng: nothing "
                      "sorted, repeated or shared between units)")
        curves = [(f"{self.init} (your weights)", None if mine is None else mine[:, 1], ref[:, 1], hist)]
        curves += [(f"{std:g} * randn (reference, for comparison)", None, stats[:, 1], h) for std, (stats, h) in context]
        figure = Figure(f"{self.id}.png", f"activation std per layer of a {self.depth}-layer tanh network (the "
                        "reference's layers), with your weights vs. the reference's, and histograms of the activations",
                        lambda fig: draw_init_study(fig, curves, self.depth), size=(4.4 * len(curves), 7.0))
        return [CheckResult(f"{self.init} weights (yours): each layer's W has the contract's std", not scale, scale,
                            figures=(figure,)),
                CheckResult(f"{self.init} weights (yours): activation std per layer within {self.rtol:.0%} of the "
                            "reference's (the reference's Linear and Tanh)", not drift, drift)]

    def _scale(self, wstd, want):
        off = ~(np.abs(wstd / want - 1) <= STUDY_WSTD_RTOL)
        if not off.any():
            return ""
        k = int(np.argmax(off))
        formula = " (xavier_uniform: bound a = sqrt(6 / (fan_in + fan_out)), std a / sqrt(3))" \
            if self.init == "xavier_uniform" else " (he_normal: std sqrt(2 / fan_in))" if self.init == "he_normal" else ""
        return (f"the scale of your weights is off: layer {k + 1}'s W has std {wstd[k]:.4g}, the contract's "
                f"{want:.4g}{formula}")

    def _differs(self, mine, ref):
        """The first layer whose mean or std is off, with both per-layer std curves, or ""."""
        tag = self.init
        if not np.isfinite(mine).all():
            k = int(np.argmax(~np.isfinite(mine).all(axis=1)))
            return f"[{tag}] layer {k + 1}: non-finite activations"
        mean, std = mine[:, 0], mine[:, 1]
        ref_mean, ref_std = ref[:, 0], ref[:, 1]
        bad = (np.abs(std - ref_std) > self.rtol * ref_std) | (np.abs(mean - ref_mean) > self.rtol * ref_std)
        if not bad.any():
            return ""
        k = int(np.argmax(bad))
        return (f"[{tag}] layer {k + 1}: activation std {std[k]:.6g} and mean {mean[k]:.3g}, reference {ref_std[k]:.6g} "
                f"and {ref_mean[k]:.3g} (std relative difference {abs(std[k] / ref_std[k] - 1):.2g}, tolerance "
                f"{self.rtol:g}); std per layer, yours: {_series(std)}; reference: {_series(ref_std)}")


def _series(values):
    return " ".join(f"{v:.3g}" for v in values)


def draw_init_study(fig, curves, depth):
    """Top: std per layer, yours (line) against the reference's (wide grey); bottom: the fraction
    of your activations in each bin of [-1, 1], per layer (log colour scale)."""
    from matplotlib.colors import LogNorm
    from matplotlib.ticker import NullFormatter
    axes = fig.subplots(2, len(curves), squeeze=False, gridspec_kw={"height_ratios": [1, 1.1], "hspace": 0.35})
    layers = np.arange(1, depth + 1)
    image = None
    for j, (title, mine, ref, hist) in enumerate(curves):
        top, bottom = axes[0, j], axes[1, j]
        shown = [v for v in (ref, mine) if v is not None and len(v)] or [np.ones(1)]
        if ref is not None:
            top.semilogy(layers[:len(ref)], ref, color="0.7", lw=6, solid_capstyle="round", label="reference")
        if mine is not None and len(mine):
            top.semilogy(layers[:len(mine)], np.clip(mine, 1e-12, None), "o-", color="C3", lw=1.5, ms=4, label="yours")
        low = min(float(np.clip(v, 1e-12, None).min()) for v in shown)
        top.set_ylim(min(low / 3, 0.1), 1.5)
        top.yaxis.set_minor_formatter(NullFormatter())
        top.set_xlim(0.5, depth + 0.5)
        top.set_xticks(layers)
        top.set_title(title, fontsize=10)
        top.grid(True, which="major", alpha=0.3)
        if hist is not None and len(hist) and hist.sum() > 0:
            frac = hist / np.maximum(hist.sum(axis=1, keepdims=True), 1)
            image = bottom.imshow(np.where(frac > 0, frac, np.nan).T, origin="lower", aspect="auto", cmap="viridis",
                                  extent=(0.5, len(hist) + 0.5, -1, 1), norm=LogNorm(1e-5, 1), interpolation="nearest")
            middle = frac.shape[1] // 2
            bottom.set_title(f"layer {len(hist)}: {frac[-1, middle]:.0%} with |h| < {1 / frac.shape[1]:.3f}, "
                             f"{frac[-1, 0] + frac[-1, -1]:.0%} with |h| > {1 - 2 / frac.shape[1]:.2f}", fontsize=9)
        else:
            bottom.text(0.5, 0.5, "no activations", ha="center", va="center", transform=bottom.transAxes)
        bottom.set_xlim(0.5, depth + 0.5)
        bottom.set_ylim(-1, 1)
        bottom.set_xticks(layers)
        bottom.set_xlabel("layer")
    axes[0, 0].set_ylabel("std of the activations")
    axes[0, 0].legend(loc="lower left", fontsize=9)
    axes[1, 0].set_ylabel("activations (tanh)")
    if image is not None:
        fig.colorbar(image, ax=list(axes[1]), fraction=0.025, pad=0.01, label="fraction of the layer's activations")


# --------------------------------------------------------------------------- dropout
@dataclass(frozen=True)
class DropoutItem(ComparedItem):
    """Inverted dropout by behaviour: kept fraction, scaling, backward mask, the same mask for the
    same seed and another for another seed, eval identity."""
    part: str = "train"  # or "eval"
    p: float = 0.3
    needs_reference: bool = False

    def calls(self, rng):
        seed = int(rng.integers(1 << 30))
        x = np.abs(randn(rng, (200, 50))) + 0.5
        dy = randn(rng, x.shape)
        spec = {"module": "layers", "name": "Dropout", "kwargs": {"p": self.p}}
        train = {"x": "x", "dy": "dy", "train": True, "seed": seed}
        steps = [train, {**train, "seed": seed + 1}, train] if self.part == "train" else \
            [{**train, "train": False}, train]  # eval, then one train step (see `evaluate`)
        return [Call("layer", {**spec, "steps": steps}, {"x": x, "dy": dy}),
                Call("layer", {**spec, "steps": steps[:1]},
                     {"x": x[:4].astype(np.float32), "dy": dy[:4].astype(np.float32)})]

    def evaluate(self, calls, got, expected, alternatives):
        x, dy = calls[0].inputs["x"], calls[0].inputs["dy"]
        steps = [got[0].get(str(k), {}) for k in range(len(calls[0].spec["steps"]))]
        y, dx = steps[0].get("y"), steps[0].get("dx")
        checked = steps if self.part == "train" else steps[:1]
        if any(np.shape(s.get("y")) != x.shape or np.shape(s.get("dx")) != x.shape for s in checked):
            shapes = ", ".join(f"{np.shape(s.get('y'))} and {np.shape(s.get('dx'))}" for s in steps)
            fail = CheckResult("output has the input's shape", False, f"y and dx must have shape {x.shape}, got {shapes}")
            return [fail] * (3 if self.part == "eval" else 5)
        y, dx = np.asarray(y), np.asarray(dx)
        y32 = got[1].get("0", {}).get("y")
        dtype = CheckResult("float32 in, float32 out", y32 is not None and np.asarray(y32).dtype == np.float32,
                            f"float32 input gave {getattr(y32, 'dtype', None)}", gated=True)
        if self.part == "eval":
            same = np.array_equal(y, x) and np.array_equal(dx, dy)
            drops = not np.array_equal(np.asarray(steps[1].get("y")), x)
            if not drops:  # code that does nothing is not an evaluation-mode Dropout
                return [CheckResult("identity at evaluation time", False, "your Dropout returns x unchanged at "
                                    "train time too: the evaluation-mode identity earns credit once training "
                                    "drops units")] * 3
            return [CheckResult("identity at evaluation time", same, "" if same else
                                "with train=False dropout must return x unchanged (and dy in backward)"),
                    C.gated(C.same_tree("does not modify its inputs", got[0].get("after", {}), calls[0].inputs,
                                        "input")),
                    dtype]
        keep = y != 0
        frac = float(keep.mean())
        scale = 1.0 / (1.0 - self.p)
        frac_ok = abs(frac - (1 - self.p)) < 0.02
        frac_msg = f"kept fraction {frac:.3f}, expected about {1 - self.p:.2f} with p={self.p}"
        if abs(frac - self.p) < 0.02:
            frac_msg += " (p is the probability of dropping a unit, not of keeping it)"
        shared = self._shared_mask(keep)
        mask_ok = not shared
        scaled = keep.any() and np.allclose(y[keep], x[keep] * scale)
        scale_msg = "kept values must be x / (1 - p)"
        if keep.any() and np.allclose(y[keep], x[keep]):
            scale_msg = "kept values equal x: dropout is not rescaled at train time (divide by 1 - p)"
        back_ok = np.allclose(dx, dy * np.where(keep, y / x, 0.0))
        back_msg = "dx must be dy times the forward pass's mask and scale (dy * y / x)"
        if np.allclose(dx, dy):
            back_msg = "dx equals dy: backward ignores the dropout mask"
        again, other = np.asarray(steps[2]["y"]) != 0, np.asarray(steps[1]["y"]) != 0
        reproducible = np.array_equal(again, keep)
        fresh = not np.array_equal(other, keep)
        rng_ok = reproducible and fresh
        rng_msg = ("the same rng seed must give the same mask: draw only from the rng you are given "
                   "(not np.random)" if not reproducible else
                   "another rng seed must give another mask: draw with rng.random(x.shape)")
        return [CheckResult("drops a fraction p of the units, independently", frac_ok and mask_ok,
                            shared or frac_msg),
                CheckResult("scales kept units by 1/(1-p)", scaled, "" if scaled else scale_msg, gated=True),
                CheckResult("backward uses the forward mask", back_ok, "" if back_ok else back_msg, gated=True),
                CheckResult("draws its mask from rng (same seed, same mask)", rng_ok, "" if rng_ok else rng_msg,
                            gated=True),
                dtype]

    @staticmethod
    def _shared_mask(keep):
        """A message when one mask is reused across rows (samples) or columns (features)."""
        if (keep == keep[:1]).all():
            return "every row has the same mask: draw one keep/drop decision per element, rng.random(x.shape)"
        if (keep == keep[:, :1]).all():
            return "every column has the same mask: draw one keep/drop decision per element, rng.random(x.shape)"
        return ""


# --------------------------------------------------------------------------- batch normalisation
@dataclass(frozen=True)
class BatchNormItem(ComparedItem):
    """Batch normalisation: train forward with running statistics, backward, or evaluation mode.

    `shapes`: (tag, x shape, dtype); statistics are per axis-1 feature/channel. Every float64 case
    also runs as a float32 copy. The evaluation item starts from given running statistics, so it
    grades evaluation alone, whatever the student's train step does.
    """
    part: str = "train"  # "train", "backward" or "eval"
    name: str = "BatchNorm1d"
    module: str = "layers"
    shapes: tuple = (("random", (8, 5), np.float64), ("odd sizes", (3, 7), np.float64),
                     ("float32", (6, 4), np.float32))

    def calls(self, rng):
        made = []
        for tag, shape, dtype in self.shapes:
            d = shape[1]
            x = randn(rng, shape, dtype, 2.0) + 1.5
            params = {"gamma": randn(rng, (d,), dtype) + 1.0, "beta": randn(rng, (d,), dtype)}
            state = {"running_mean": randn(rng, (d,), dtype, 0.1),
                     "running_var": np.abs(randn(rng, (d,), dtype)) + 0.5}
            made.append((tag, {"x": x, "params": params, "state": state, "dy": randn(rng, shape, dtype),
                               "x2": randn(rng, (1, *shape[1:]), dtype) * 3}))
        made += [(tag + F32, as_float32(inputs)) for tag, inputs in list(made) if inputs["x"].dtype == np.float64]
        calls = []
        for tag, inputs in made:
            d = inputs["x"].shape[1]
            steps = [{"x": "x", "dy": "dy" if self.part == "backward" else None, "train": True}]
            if self.part == "eval":
                steps = [{"x": "x2", "dy": None, "train": False}, {"x": "x", "dy": "dy", "train": False}]
            spec = {"module": self.module, "name": self.name, "kwargs": {"num_features": d, "momentum": 0.2},
                    "steps": steps, "tag": tag}
            calls.append(Call("layer", spec, inputs))
        if self.part == "backward":
            for i, call in enumerate(list(calls)):
                if call.inputs["x"].dtype == np.float64:
                    spec = {"module": self.module, "name": self.name, "kwargs": call.spec["kwargs"], "train": True}
                    calls.append(perturbation("layer_perturbed", spec,
                                              {k: call.inputs[k] for k in ("x", "params", "state")},
                                              ["x", "params/gamma", "params/beta"], rng, i))
        return calls

    def evaluate(self, calls, got, expected, alternatives):
        cases = [i for i, c in enumerate(calls) if c.driver == "layer"]

        def pairs(keys):
            return [pair(f"{label(k)} [{calls[i].spec['tag']}, step {k[0]}]", got[i], expected[i],
                         per_call(alternatives, i), path=k) for i in cases for k in keys]

        all_keys = {
            "train": [("0", "y")],
            "backward": [("0", "dx"), ("0", "grads", "gamma"), ("0", "grads", "beta")],
            "eval": [("0", "y"), ("1", "y"), ("1", "dx")],
        }[self.part]
        results = [compare("matches the reference", pairs(all_keys))]
        if self.part == "train":
            results.append(compare("updates running statistics (train)",
                                   pairs([("0", "state", "running_mean"), ("0", "state", "running_var")])))
        elif self.part == "eval":
            results.append(C.gated(compare("leaves running statistics unchanged (eval)", [
                (f'state["{k}"] [{calls[i].spec["tag"]}, after eval]', dig(got[i], ("1", "state", k)),
                 calls[i].inputs["state"][k], {"rtol": 0.0, "atol": 0.0}, [])
                for i in cases for k in ("running_mean", "running_var")])))
        else:
            results.append(gradchecks(calls, got, lambda i: calls[i].inputs["dy"], lambda i: {
                "x": dig(got[i], ("0", "dx")),
                **{f"params/{k}": dig(got[i], ("0", "grads", k)) for k in ("gamma", "beta")}}))
        state_keys = [("0", "state", "running_mean"), ("0", "state", "running_var")] * (self.part == "train")
        results.append(dtypes("float32 in, float32 out", pairs(all_keys + state_keys)))
        results.append(C.gated(purity_of(calls, got, cases)))
        return results


# --------------------------------------------------------------------------- Sequential
@dataclass(frozen=True)
class SequentialItem(ComparedItem):
    """Sequential composes known probe layers: forward, backward, and it passes `train`, `rng` and
    each layer's own `state` on."""

    def calls(self, rng):
        calls = []
        for train in (True, False):
            params = {"0": {"s": randn(rng, (4,))}, "4": {"s": randn(rng, (4,))}}
            calls.append(Call("sequential", {"module": "layers", "name": "Sequential", "train": train,
                                             "seed": int(rng.integers(1 << 30))},
                              {"x": randn(rng, (3, 4)), "dy": randn(rng, (3, 4)), "params": params}))
        return calls

    def evaluate(self, calls, got, expected, alternatives):
        results = []
        for i, mode in enumerate(("train", "eval")):
            keys = [("y",), ("dx",), ("grads", "0", "s"), ("grads", "4", "s"), ("state", "2", "count")]
            results.append(compare(f"forward and backward through 5 layers, passing train, rng, state ({mode})",
                                   [pair("/".join(k) + f" [{mode}]", got[i], expected[i], per_call(alternatives, i),
                                         path=k) for k in keys]))
        return results


# --------------------------------------------------------------------------- trained models
@dataclass(frozen=True)
class AccuracyItem(TrustedItem):
    """Test accuracy of the submitted weights, with linear partial credit from `floor` to `target`.

    Graded in the trusted parent with the reference layers; `dlgrade check` runs the student's
    own layers in a worker instead (`calls`).
    """
    floor: float = 0.0
    target: float = 1.0
    modules: tuple = ("layers",)  # where `dlgrade check` finds the student's layer classes
    layers: tuple = ()            # the layer types this assignment's model may use
    max_flops: float = 0.0        # a tighter FLOPs bound for its evaluation (0: drivers.MAX_EVAL_FLOPS)

    def check_arch(self, arch):
        """Refuse a model built from layers this assignment does not teach (a CNN for the MLP)."""
        from grader.items.models import WeightsError
        for i, layer in enumerate(arch):
            if layer["type"] not in self.layers:
                raise WeightsError(f"{self.weights}: layer {i} is a {layer['type']}, which this assignment's model "
                                   f"may not use (allowed: {', '.join(self.layers)})")

    def test_set(self):
        from grader.student.data import cifar10_test_set
        return cifar10_test_set()

    def calls_for(self, arch, weights, meta, data):
        spec = {"arch": json.dumps(arch), "modules": list(self.modules), "max_flops": self.max_flops}
        return [Call("predict", spec, {"weights": weights, "x": data[0]})]

    def evaluate_outputs(self, outputs, meta, data):
        from grader.items.models import accuracy
        labels = data[1]
        acc = accuracy(outputs[0].get("pred"), labels)
        credit = float(np.clip((acc - self.floor) / (self.target - self.floor), 0.0, 1.0))
        msg = (f"test accuracy {acc:.2%} on {len(labels)} CIFAR-10 test images "
               f"(full credit at {self.target:.0%}, none at or below {self.floor:.0%})")
        return [CheckResult("test accuracy", credit >= 1.0, msg, credit=credit)]


# --------------------------------------------------------------------------- speed
@dataclass(frozen=True)
class SpeedItem(ComparedItem):
    """Time of a layer's forward or backward as a ratio to the reference, measured side by side.

    Full credit at a ratio of medians <= `full_at`, none at >= `zero_at`, linear in log(ratio) in
    between; no credit unless the result on the timed input is correct.
    """
    name: str = ""
    module: str = "layers"
    part: str = "forward"
    make: object = None          # (rng, shape, dtype) -> (kwargs, x, params) as for LayerItem
    shape: tuple = ()
    probe_shape: tuple = ()      # a small input: pixel loops are far slower there than vectorised code
    probe_limit: float = 25.0    # probe ratio beyond which the item scores zero without timing
    out_shape: object = None
    full_at: float = 2.0
    zero_at: float = 10.0
    repeats: int = 15
    budget_s: float = 20.0
    exclusive: bool = True  # timed alone: no other item of the run beside it

    def calls(self, rng):
        kwargs, x, params = self.make(rng, self.shape, np.float32)
        probe_kwargs, px, pparams = self.make(rng, self.probe_shape, np.float32)
        inputs = {"x": x, "params": params,
                  "probe": {"x": px, "params": pparams}}
        if self.part == "backward":
            inputs["dy"] = randn(rng, self.out_shape(kwargs, x), np.float32)
            inputs["probe"]["dy"] = randn(rng, self.out_shape(probe_kwargs, px), np.float32)
        spec = {"module": self.module, "name": self.name, "kwargs": kwargs, "probe_kwargs": probe_kwargs,
                "part": self.part, "repeats": self.repeats, "budget_s": self.budget_s,
                "probe_limit": self.probe_limit}
        step = {"x": "x", "dy": "dy" if self.part == "backward" else None, "train": False}
        check = {k: v for k, v in inputs.items() if k != "probe"}
        return [Call("speed", spec, inputs),
                Call("layer", {**spec, "steps": [step], "tag": "timed input"}, check)]

    def credit(self, ratio):
        if ratio <= self.full_at:
            return 1.0
        return float(np.clip(1 - np.log(ratio / self.full_at) / np.log(self.zero_at / self.full_at), 0, 1))

    def evaluate(self, calls, got, expected, alternatives):
        name = f"{self.part} speed vs. the reference"
        keys = [("0", "y")] if self.part == "forward" else \
            [("0", "dx")] + [("0", "grads", k) for k in calls[1].inputs.get("params", {})]
        # float32 sums over ~10^4 terms: a loose tolerance, enough to refuse wrong results
        correct = compare("correct", [pair(label(k), got[1], expected[1], path=k, rtol=1e-2, atol=1e-3,
                                           check_dtype=True) for k in keys])
        if not correct.passed:
            return [CheckResult(name, False, "no speed credit for a wrong result: " + correct.message, credit=0.0)]
        band = f"full credit at <= {self.full_at:g}x, none at >= {self.zero_at:g}x"
        if got[0].get("wrong") is not None:  # timing.measure: a timed run disagreed with the reference
            return [CheckResult(name, False, "no speed credit for a wrong result: " + str(got[0]["wrong"]), credit=0.0)]
        probe = got[0].get("probe")
        if probe is not None:
            ratio = float(probe["student"]) / max(float(probe["reference"]), 1e-9)
            return [CheckResult(name, False, f"about {ratio:.0f}x slower than the reference on a small probe "
                                f"input (Python loops over samples or pixels?); no speed credit beyond "
                                f"{self.probe_limit:g}x there; {band}", credit=0.0)]
        times = got[0].get("times", {})
        s, r = np.asarray(times.get("student", [])), np.asarray(times.get("reference", []))
        if s.size == 0 or r.size == 0 or not (np.isfinite(s).all() and np.isfinite(r).all() and (r > 0).all()):
            return [CheckResult(name, False, "no timings came back", credit=0.0)]
        ratio = float(np.median(s) / np.median(r))
        credit = self.credit(ratio)
        msg = (f"median {np.median(s) * 1e3:.2f} ms vs. reference {np.median(r) * 1e3:.2f} ms over {s.size} "
               f"interleaved runs: ratio {ratio:.2f} ({band}); {ratio_spread(s, r)}")
        return [CheckResult(name, credit >= 1.0, msg, credit=credit)]


def ratio_spread(student, reference):
    """How much the speed ratio moved between runs: the quartiles of the per-run ratios (run k of
    the student over run k of the reference, timed side by side), so a ratio measured on a busy
    machine reads as such. It changes no credit (the ratio of medians does)."""
    n = min(len(student), len(reference))
    per_run = np.asarray(student[:n], dtype=np.float64) / np.asarray(reference[:n], dtype=np.float64)
    q1, q2, q3 = np.percentile(per_run, [25, 50, 75])
    return (f"spread: per-run ratios over {n} pairs have median {q2:.2f} and interquartile range {q1:.2f} to {q3:.2f} "
            f"(width {q3 - q1:.2f})")


# --------------------------------------------------------------------------- recurrent steps
LARGE_STEP = "|pre-activation| > 710 (x times 1000)"


@dataclass(frozen=True)
class StepItem(ComparedItem):
    """One recurrent step, forward or backward, against the reference (with a gradient check).

    `make(rng, n, d, h, dtype) -> (kwargs, inputs)` with inputs `x`, `h` (and `h_c` for the LSTM's
    cell state) and `params`. A forward item never runs the student's `step_backward`. Cases:
    random, batch of one, float32, pre-activations far beyond +-710 (where exp overflows), and a
    float32 copy of each float64 case.
    """
    name: str = ""
    module: str = "rnn"
    part: str = "forward"
    make: object = None

    def calls(self, rng):
        made = []
        for tag, (n, d, h), dtype, scale in (("random", (3, 4, 5), np.float64, 1.0),
                                             ("batch of 1", (1, 3, 2), np.float64, 1.0),
                                             ("float32", (2, 3, 4), np.float32, 1.0),
                                             (LARGE_STEP, (2, 3, 4), np.float64, 1000.0)):
            kwargs, inputs = self.make(rng, n, d, h, dtype)
            inputs["x"] = inputs["x"] * scale
            for key in [k for k in ("h", "h_c") if k in inputs]:
                inputs["dh_next" + key[1:]] = randn(rng, inputs[key].shape, dtype)
            made.append((tag, kwargs, inputs))
        made += [(tag + F32, kwargs, as_float32(inputs)) for tag, kwargs, inputs in list(made)
                 if inputs["x"].dtype == np.float64]
        backward = self.part == "backward"
        calls = [Call("step", {"module": self.module, "name": self.name, "kwargs": kwargs, "tag": tag,
                               "backward": backward}, inputs) for tag, kwargs, inputs in made]
        if backward:
            for i, call in enumerate(list(calls)):
                if call.inputs["x"].dtype != np.float64:
                    continue
                data = {k: v for k, v in call.inputs.items() if not k.startswith("dh_next")}
                wrt = [k for k in ("x", "h", "h_c") if k in data] + [f"params/{k}" for k in data["params"]]
                spec = {k: v for k, v in call.spec.items() if k not in ("tag", "backward")}
                calls.append(perturbation("step_perturbed", spec, data, wrt, rng, i))
        return calls

    def evaluate(self, calls, got, expected, alternatives):
        cases = [i for i, c in enumerate(calls) if c.driver == "step"]
        lstm = "h_c" in calls[0].inputs
        backward = self.part == "backward"
        out = [("h_next",), ("h_next_c",)][:1 + lstm] if not backward else \
            [("dx",), ("dh",), ("dh_c",)][:2 + lstm] + [("grads", k) for k in calls[0].inputs["params"]]

        def pairs():
            names = {"h_next_c": "c_next", "dh_c": "dc", "dh": "dh"}
            return [pair(f"{names.get(k[-1], label(k))} [{calls[i].spec['tag']}]", got[i], expected[i],
                         per_call(alternatives, i), path=k, **opts_for(calls[i].spec["tag"], {LARGE_STEP}))
                    for i in cases for k in out]

        broken = [forward_broken(got[i], expected[i], calls[i].spec["tag"], ("h_next",)) for i in cases] if backward else []
        broken = next((b for b in broken if b), None)
        results = [CheckResult("matches the reference", False, broken) if broken else
                   compare("matches the reference", pairs())]
        if backward:
            def upstream(i):
                inputs = calls[i].inputs
                return np.concatenate([inputs["dh_next"].reshape(len(inputs["x"]), -1)] +
                                      ([inputs["dh_next_c"]] if lstm else []), axis=1)
            results.append(gradchecks(calls, got, upstream, lambda i: {
                "x": got[i].get("dx"), "h": got[i].get("dh"), "h_c": got[i].get("dh_c"),
                **{f"params/{k}": dig(got[i], ("grads", k)) for k in calls[i].inputs["params"]}}))
        results.append(dtypes("float32 in, float32 out", pairs()))
        results.append(C.gated(purity_of(calls, got, cases)))
        return results


def gradcheck(call, pert, dy, analytic, tag=""):
    """Analytic gradients (by perturbed key) against central differences of the student's forward,
    at the elements `call.spec["index"]` moved (all when absent)."""
    name = "numerical gradient check (float64)"
    names = {"x": "dx", "h": "dh", "h_c": "dc"}
    where = f" [{tag}]" if tag else ""
    dy = np.asarray(dy, dtype=np.float64)
    for key in call.spec["wrt"]:
        rows = pert.get("f", {}).get(key.replace("/", "."))
        label_ = names.get(key, "d" + key.split("/")[-1])
        node = dig(call.inputs, key.split("/"))
        grad = analytic.get(key)
        if rows is None or grad is None or isinstance(grad, C.WrongType):
            return CheckResult(name, False, C.mismatch(f"{label_}{where}", grad, node) or
                               f"{label_}{where}: missing from what your code returned")
        if np.shape(grad) != np.shape(node):
            return CheckResult(name, False, f"{label_}{where}: shape {np.shape(grad)}, expected {np.shape(node)} "
                                            f"(the shape of {key.split('/')[-1]})")
        rows = np.asarray(rows, dtype=np.float64)
        if rows.shape[1:] != dy.shape:
            return CheckResult(name, False, f"your forward returns shape {rows.shape[1:]}, expected {dy.shape}: "
                                            "fix forward first")
        index = call.spec.get("index", {}).get(key, list(range(np.size(node))))
        numeric = C.numerical_gradient(rows, dy, H)
        grad = np.asarray(grad, dtype=np.float64)
        full = grad.copy()  # entries not moved agree by construction; the index shown is the real one
        # Where the student's own forward is not finite at x +- h (its overflow, which the forward
        # item charges), finite differences say nothing about backward: those entries are skipped,
        # explicitly (a non-finite expected value is no wildcard in `checks.mismatch`).
        full.reshape(-1)[index] = np.where(np.isfinite(numeric), numeric, grad.reshape(-1)[index])
        what = f"{label_}{where} (your backward vs. finite differences of your forward)"
        # rounding in the forward's values, amplified by 1/h: large outputs (logits x1000) need it
        noise = 64 * np.finfo(np.float64).eps * float(np.abs(rows[np.isfinite(rows)]).max(initial=0)) * float(np.abs(dy).sum()) / (2 * H)
        msg = C.mismatch(what, grad, full, rtol=C.GRADCHECK_TOL[0], atol=max(C.GRADCHECK_TOL[1], noise),
                         check_dtype=False)
        if msg:
            moved = np.abs(grad.reshape(-1)[index]).max(initial=0)
            if moved > 0 and np.abs(numeric).max(initial=0) <= 1e-6 * moved:
                msg = (f"{label_}{where}: your forward does not depend on {key.split('/')[-1]} (its output did not "
                       f"change when {key.split('/')[-1]} moved), but your backward returns a nonzero {label_}")
            return CheckResult(name, False, msg)
    return CheckResult(name, True)


# --------------------------------------------------------------------------- plain functions
@dataclass(frozen=True)
class FunctionItem(ComparedItem):
    """A plain function against the reference: `make(rng, dtype, k) -> (args: dict, kwargs)` for
    case k (0 and 1 float64, 2 float32, then float32 copies of 0 and 1); the outputs are named by
    `outputs` (one name per element of a tuple result). With `wrt`, the first output is also
    differentiated numerically on each float64 case and compared with output `grads`."""
    name: str = ""
    module: str = ""
    make: object = None
    outputs: tuple = ("out",)
    wrt: tuple = ()

    def calls(self, rng):
        made = []
        for k, (tag, dtype) in enumerate((("float64", np.float64), ("float64, second case", np.float64),
                                          ("float32", np.float32))):
            args, kwargs = self.make(rng, dtype, k)
            made.append((tag, args, kwargs))
        made += [(tag + F32, as_float32(args), kwargs) for tag, args, kwargs in made[:2]]
        calls = [Call("function", {"module": self.module, "name": self.name, "args": list(args), "kwargs": kwargs,
                                   "tag": tag}, args) for tag, args, kwargs in made]
        if self.wrt:
            for i in (0, 1):
                spec = {k: v for k, v in calls[i].spec.items() if k != "tag"}
                calls.append(perturbation("function_perturbed", spec, calls[i].inputs, list(self.wrt), rng, i))
        return calls

    def paths(self):
        if len(self.outputs) == 1:
            return [(self.outputs[0], ("out",))]
        return [(name, ("out", str(i))) for i, name in enumerate(self.outputs)]

    def evaluate(self, calls, got, expected, alternatives):
        cases = [i for i, c in enumerate(calls) if c.driver == "function"]

        def pairs():
            out = []
            for i in cases:
                for name, path in self.paths():
                    exp = dig(expected[i], path)
                    if isinstance(exp, dict):  # a dict output (clipped gradients): one pair per entry
                        out += [pair(f"{name}[{k!r}] [{calls[i].spec['tag']}]", got[i], expected[i],
                                     per_call(alternatives, i), path=path + (k,)) for k in exp]
                    else:
                        out.append(pair(f"{name} [{calls[i].spec['tag']}]", got[i], expected[i],
                                        per_call(alternatives, i), path=path))
            return out

        results = [compare("matches the reference", pairs())]
        if self.wrt:
            results.append(gradchecks(calls, got, lambda i: np.ones(()), lambda i: {
                k: dig(got[i], ("out", "1", k.split("/")[-1])) for k in self.wrt}))
        results.append(dtypes("float32 in, float32 out", pairs()))
        results.append(C.gated(purity_of(calls, got, cases)))
        return results


# --------------------------------------------------------------------------- sampling
@dataclass(frozen=True)
class SamplerItem(ComparedItem):
    """`sample_next` by behaviour: frequencies match softmax(logits / T), top-k support, seeding."""
    name: str = "sample_next"
    module: str = "text"
    rows: int = 20000
    needs_reference: bool = False

    def calls(self, rng):
        logits = np.array([[2.0, 1.0, 0.5, 0.0, -1.0, 1.5]]) + rng.standard_normal((1, 6)) * 0.1
        ties = np.array([[0.5, 2.0, 1.0, -1.0, 1.0, 0.0]])  # top_k=2: the k-th value 1.0 is tied
        base = {"module": self.module, "name": self.name, "rows": self.rows, "seed": int(rng.integers(1 << 30))}
        sharp = np.roll(logits, 1 + int(rng.integers(4)), axis=1)  # its argmax is never token 0
        return [Call("sampler", {**base, "temperature": 1.0}, {"logits": logits}),
                Call("sampler", {**base, "temperature": 0.5}, {"logits": logits}),
                Call("sampler", {**base, "temperature": 2.0, "top_k": 3}, {"logits": logits}),
                Call("sampler", {**base, "temperature": 1.0}, {"logits": logits}),
                Call("sampler", {**base, "seed": base["seed"] + 1, "rows": 200, "temperature": 1.0},
                     {"logits": sharp.astype(np.float32) * 1000}),
                Call("sampler", {**base, "temperature": 1.0, "top_k": 2}, {"logits": ties})]

    @staticmethod
    def expected_probs(logits, temperature, top_k=None):
        z = logits[0] / temperature
        if top_k:
            z = np.where(z >= np.sort(z)[-top_k], z, -np.inf)
        p = np.exp(z - z.max())
        return p / p.sum()

    def evaluate(self, calls, got, expected, alternatives):
        logits = calls[0].inputs["logits"]
        results = []
        for i, what in ((0, "temperature 1"), (1, "temperature 0.5"), (2, "temperature 2, top_k=3"),
                        (5, "top_k=2 with a tie at the 2nd largest logit: keep every tied token")):
            spec = calls[i].spec
            logits = calls[i].inputs["logits"]
            samples = got[i].get("samples")
            name = f"draws follow softmax(logits / T) ({what})"
            if samples is None or np.shape(samples) != (self.rows, 1) or np.asarray(samples).dtype.kind not in "iu":
                results.append(CheckResult(name, False, f"expected {self.rows} integer samples, got "
                                           f"{getattr(samples, 'shape', None)} {getattr(samples, 'dtype', None)}"))
                continue
            freq = np.bincount(np.asarray(samples).ravel(), minlength=logits.shape[1])[:logits.shape[1]] / self.rows
            p = self.expected_probs(logits, spec["temperature"], spec.get("top_k"))
            sigma = np.sqrt(p * (1 - p) / self.rows)
            dropped_tie = i == 5 and (freq[p > 0] == 0).any()
            bad = np.abs(freq - p) > 5 * sigma + 2e-3
            msg = ""
            if bad.any():
                j = int(np.argmax(np.abs(freq - p) - 5 * sigma))
                msg = f"token {j}: frequency {freq[j]:.4f}, expected {p[j]:.4f}"
                if np.allclose(freq, self.expected_probs(logits, 1.0, spec.get("top_k")), atol=0.01) \
                        and spec["temperature"] != 1.0:
                    msg += "; the temperature has no effect: divide the logits by it before the softmax"
                elif spec.get("top_k") and (freq[p == 0] > 0).any():
                    msg += "; tokens outside the top k were drawn"
                elif dropped_tie:
                    msg += "; a token tied with the k-th largest logit was never drawn: keep all tied tokens"
            results.append(CheckResult(name, not bad.any(), msg))
        same = got[0].get("samples") is not None and np.array_equal(got[0].get("samples"), got[3].get("samples"))
        results.append(CheckResult("the same seed gives the same draws", same, "" if same else
                                   "draw only from the rng you are given (not np.random)", gated=True))
        sharp = got[4].get("samples")
        ok = sharp is not None and np.shape(sharp) == (200, 1) and \
            np.all(np.asarray(sharp) == int(np.argmax(calls[4].inputs["logits"])))
        results.append(CheckResult("stable for large logits (x1000, float32)", bool(ok), "" if ok else
                                   "with logits x1000 every draw must be the argmax: subtract the maximum before exp"))
        return results


# --------------------------------------------------------------------------- language models
@dataclass(frozen=True)
class TextItem(AccuracyItem):
    """Held-out loss of a trained character model in nats per character, with samples shown.

    Full credit at <= `target` nats/char, none at >= `floor`, linear in between.
    """
    corpus: str = "names"  # or "shakespeare"
    modules: tuple = ("rnn", "layers")
    chunk: int = 128

    def test_set(self):
        from grader.student.data import load_names, load_shakespeare
        if self.corpus == "names":
            return load_names()["test"]
        return load_shakespeare()["test"]

    def encode(self, vocab, text):
        """(inputs, targets) int arrays; names: '.name.' rows padded with targets -1."""
        from grader.items.models import WeightsError
        index = {c: i for i, c in enumerate(vocab)}
        chars = set("".join(text))
        missing = sorted(chars - set(index))
        if missing:
            raise WeightsError(f"vocab lacks characters of the test text: {''.join(missing)!r}")
        if self.corpus == "names":
            if vocab[0] != ".":
                raise WeightsError("for names, vocab[0] must be '.', the start and end token")
            width = max(map(len, text)) + 1
            x = np.zeros((len(text), width), np.int64)
            y = np.full((len(text), width), -1, np.int64)
            for r, name in enumerate(text):
                ids = [0] + [index[c] for c in name] + [0]
                x[r, :len(ids) - 1] = ids[:-1]
                y[r, :len(ids) - 1] = ids[1:]
            return x, y
        ids = np.array([index[c] for c in text], np.int64)
        streams = 16
        length = (len(ids) - 1) // streams
        x = ids[:streams * length].reshape(streams, length)
        y = ids[1:streams * length + 1].reshape(streams, length)
        return x, y

    def calls_for(self, arch, weights, meta, text):
        if "vocab" not in meta:
            from grader.items.models import WeightsError
            raise WeightsError(f"{self.weights}: a 'vocab' entry (JSON list of characters) is required")
        x, y = self.encode(meta["vocab"], text)
        spec = {"arch": json.dumps(arch), "modules": list(self.modules), "chunk": self.chunk,
                "batch": 256 if self.corpus == "names" else len(x), "max_flops": self.max_flops}
        start = 0 if self.corpus == "names" else meta["vocab"].index("\n") if "\n" in meta["vocab"] else 0
        sample = {"arch": spec["arch"], "modules": spec["modules"], "sampler_module": "text", "seed": 0,
                  "n": 8 if self.corpus == "names" else 1, "length": 16 if self.corpus == "names" else 300,
                  "start": start, "max_flops": self.max_flops}
        return [Call("text_nll", spec, {"weights": weights, "inputs": x, "targets": y}),
                Call("generate", sample, {"weights": weights})]

    def evaluate_outputs(self, outputs, meta, text):
        nll, count = float(outputs[0]["nll"]), int(outputs[0]["count"])
        nats = nll / max(count, 1)
        credit = float(np.clip((self.floor - nats) / (self.floor - self.target), 0.0, 1.0))
        vocab = meta["vocab"]
        tokens = np.asarray(outputs[1].get("tokens", np.zeros((0, 0), np.int64)))
        if self.corpus == "names":
            samples = ["".join(vocab[t] for t in row).split(".")[0] for row in tokens.tolist()]
            shown = ", ".join(samples)
        else:
            shown = "\n    " + "".join(vocab[t] for t in tokens[0].tolist()).replace("\n", "\n    ")
        msg = (f"{nats:.4f} nats/char on {count} held-out characters "
               f"(full credit at <= {self.target:.2f}, none at >= {self.floor:.2f}); samples: {shown}")
        return [CheckResult("held-out loss", credit >= 1.0, msg, credit=credit)]
