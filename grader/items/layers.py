"""Items on a layer's forward or backward, on the item pipeline (`grader.items.pipeline.CaseItem`):
layers, losses, batch normalisation and one recurrent step."""
from dataclasses import dataclass, field

import numpy as np

from grader.items import checks as C
from grader.items.cases import CASES, F32, Case, as_float32, randn
from grader.items.checks import CheckResult
from grader.items.pipeline import CaseItem
from grader.items.verdicts import compare, dig, forward_broken, label
from grader.sandbox.calls import Call

LARGE_STEP = "|pre-activation| > 710 (x times 1000)"


# --------------------------------------------------------------------------- layers
@dataclass(frozen=True)
class LayerItem(CaseItem):
    """Forward or backward of a layer against the reference, with a numerical gradient check.

    `make(rng, shape, dtype) -> (kwargs, x, params)` builds one case for each (tag, shape, dtype)
    of `shapes`; `edge` adds float64 cases (tag, shape, scale) with inputs scaled by `scale` (large
    logits and the like); `special` adds float64 cases (tag, fn(rng) -> (kwargs, x, params)) such
    as inputs exactly at a kink. Every float64 case also runs as a float32 copy, and every float64
    case whose tag is not in `no_gradcheck` (ties, kinks: finite differences are undefined there)
    gets a numerical gradient check. `out_shape` gives the output shape for the upstream gradient
    (default: that of x).
    """
    part: str = "forward"  # or "backward"
    make: object = None
    edge: tuple = ()
    special: tuple = ()
    no_gradcheck: tuple = ()
    module: str = "layers"
    shapes: tuple = CASES
    out_shape: object = None
    state: object = None  # (rng, kwargs, x) -> initial state dict (recurrent layers); compared after
    driver = "layer"

    def families(self, rng):
        made = [(tag, *self.make(rng, shape, dtype), True) for tag, shape, dtype in self.shapes]
        for tag, shape, scale in self.edge:
            kwargs, x, params = self.make(rng, shape, np.float64)
            made.append((tag, kwargs, x * scale, params, True))
        made += [(tag, *make(rng), False) for tag, make in self.special]
        backward = self.part == "backward"
        return [Case(tag, {"x": x, "params": params}, {"kwargs": kwargs},
                     C.case_dtype({"x": x, "params": params}) == np.float64,
                     backward and check and tag not in self.no_gradcheck) for tag, kwargs, x, params, check in made]

    def call(self, case, rng):
        tag, kwargs, inputs = case.tag, case.spec["kwargs"], dict(case.inputs)
        if self.state:
            inputs["state"] = as_float32(self.state(rng, kwargs, inputs["x"])) if tag.endswith(F32) \
                else self.state(rng, kwargs, inputs["x"])
        step = {"x": "x", "dy": None, "train": False}
        if self.part == "backward":
            y_shape = self.out_shape(kwargs, inputs["x"]) if self.out_shape else inputs["x"].shape
            inputs["dy"] = randn(rng, y_shape, C.case_dtype(inputs))
            step["dy"] = "dy"
        spec = {"module": self.module, "name": self.name, "kwargs": kwargs, "steps": [step], "tag": tag}
        if self.state and not inputs["state"]:
            spec["empty_state"] = True
        return Call("layer", spec, inputs)

    def perturbed(self, call):
        wrt = ["x"] * (call.inputs["x"].dtype.kind == "f") + [f"params/{k}" for k in call.inputs["params"]]
        spec = {"module": self.module, "name": self.name, "kwargs": call.spec["kwargs"]}
        return spec, {k: v for k, v in call.inputs.items() if k != "dy"}, wrt

    def scaled_families(self):
        return {t for t, _, _ in self.edge}

    def keys(self, calls):
        """(output keys, gradient keys, what the first value check calls them)."""
        backward = self.part == "backward"
        integer_x = calls[0].inputs["x"].dtype.kind != "f"
        out_keys = [("0", "y")] if not backward else [("0", "dx")] * (not integer_x)
        if self.state and not backward:
            out_keys += [("0", "state", k) for k in calls[0].inputs["state"]]
        grad_keys = [("0", "grads", k) for k in calls[0].inputs.get("params", {})] if backward else []
        return out_keys, grad_keys, "output" if not backward else ("dx" if not integer_x else "gradients")

    def values(self, calls, got, expected, alternatives, cases):
        out_keys, grad_keys, what = self.keys(calls)

        def pairs(keys):
            return self.pairs(calls, got, expected, alternatives, cases, [(label(k), k) for k in keys])
        results = [self._values(f"{what} matches the reference", calls, got, expected, cases,
                                pairs(out_keys or grad_keys))]
        if grad_keys and out_keys:
            results.append(self._values("parameter gradients match the reference", calls, got, expected, cases,
                                        pairs(grad_keys)))
        return results

    def gradient(self, calls, got):
        if self.part != "backward":
            return None
        return lambda i: calls[i].inputs["dy"], lambda i: {
            "x": dig(got[i], ("0", "dx")),
            **{f"params/{k}": dig(got[i], ("0", "grads", k)) for k in calls[i].inputs.get("params", {})}}

    def dtype_pairs(self, calls, got, expected, alternatives, cases):
        out_keys, grad_keys, _ = self.keys(calls)
        return self.pairs(calls, got, expected, alternatives, cases, [(label(k), k) for k in out_keys + grad_keys])

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
class LossItem(CaseItem):
    """Loss value and gradient against the reference, a gradient check, dtype and purity.

    `make(rng, n, c, dtype) -> (scores, target)`; `edge`: float64 score scales to add; `special`:
    (tag, fn(rng) -> (scores, target)) float64 cases without a gradient check (kinks). Every
    float64 case also runs as a float32 copy.
    """
    make: object = None
    kwargs: dict = field(default_factory=dict)
    edge: tuple = ()
    special: tuple = ()
    module: str = "losses"
    driver = "loss"

    def families(self, rng):
        cases = [("random", 5, 4, np.float64, 1.0), ("batch of 1", 1, 3, np.float64, 1.0),
                 ("float32", 4, 3, np.float32, 1.0)]
        cases += [(f"scores x{s:g}", 4, 5, np.float64, s) for s in self.edge]
        made = []
        for tag, n, c, dtype, scale in cases:
            scores, target = self.make(rng, n, c, dtype)
            made.append((tag, scores * scale, target, True))
        made += [(tag, *make(rng), False) for tag, make in self.special]
        return [Case(tag, {"scores": s, "target": t}, {"kwargs": self.kwargs}, s.dtype == np.float64, check)
                for tag, s, t, check in made]

    def perturbed(self, call):
        return {k: v for k, v in call.spec.items() if k != "tag"}, dict(call.inputs), ["scores"]

    def scaled_families(self):
        return {f"scores x{s:g}" for s in self.edge}

    def values(self, calls, got, expected, alternatives, cases):
        return [compare(f"{key} matches the reference",
                        self.pairs(calls, got, expected, alternatives, cases, [(key, (key,))]))
                for key in ("loss", "dscores")]

    def gradient(self, calls, got):
        return lambda i: np.ones(()), lambda i: {"scores": got[i].get("dscores")}

    def dtype_pairs(self, calls, got, expected, alternatives, cases):
        return [p for key in ("loss", "dscores")
                for p in self.pairs(calls, got, expected, alternatives, cases, [(key, (key,))])]


# --------------------------------------------------------------------------- batch normalisation
@dataclass(frozen=True)
class BatchNormItem(CaseItem):
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
    driver = "layer"

    def families(self, rng):
        out = []
        for tag, shape, dtype in self.shapes:
            d = shape[1]
            x = randn(rng, shape, dtype, 2.0) + 1.5
            params = {"gamma": randn(rng, (d,), dtype) + 1.0, "beta": randn(rng, (d,), dtype)}
            state = {"running_mean": randn(rng, (d,), dtype, 0.1),
                     "running_var": np.abs(randn(rng, (d,), dtype)) + 0.5}
            inputs = {"x": x, "params": params, "state": state, "dy": randn(rng, shape, dtype),
                      "x2": randn(rng, (1, *shape[1:]), dtype) * 3}
            out.append(Case(tag, inputs, {}, x.dtype == np.float64, self.part == "backward"))
        return out

    def call(self, case, rng):
        d = case.inputs["x"].shape[1]
        steps = [{"x": "x", "dy": "dy" if self.part == "backward" else None, "train": True}]
        if self.part == "eval":
            steps = [{"x": "x2", "dy": None, "train": False}, {"x": "x", "dy": "dy", "train": False}]
        spec = {"module": self.module, "name": self.name, "kwargs": {"num_features": d, "momentum": 0.2},
                "steps": steps, "tag": case.tag}
        return Call("layer", spec, case.inputs)

    def perturbed(self, call):
        spec = {"module": self.module, "name": self.name, "kwargs": call.spec["kwargs"], "train": True}
        return spec, {k: call.inputs[k] for k in ("x", "params", "state")}, ["x", "params/gamma", "params/beta"]

    def where(self, tag, path):
        return f"{tag}, step {path[0]}"

    def keys(self):
        return {"train": [("0", "y")],
                "backward": [("0", "dx"), ("0", "grads", "gamma"), ("0", "grads", "beta")],
                "eval": [("0", "y"), ("1", "y"), ("1", "dx")]}[self.part]

    def values(self, calls, got, expected, alternatives, cases):
        def pairs(keys):
            return self.pairs(calls, got, expected, alternatives, cases, [(label(k), k) for k in keys])
        results = [compare("matches the reference", pairs(self.keys()))]
        if self.part == "train":
            results.append(compare("updates running statistics (train)",
                                   pairs([("0", "state", "running_mean"), ("0", "state", "running_var")])))
        elif self.part == "eval":
            results.append(C.gated(compare("leaves running statistics unchanged (eval)", [
                (f'state["{k}"] [{calls[i].spec["tag"]}, after eval]', dig(got[i], ("1", "state", k)),
                 calls[i].inputs["state"][k], {"rtol": 0.0, "atol": 0.0}, [])
                for i in cases for k in ("running_mean", "running_var")])))
        return results

    def gradient(self, calls, got):
        if self.part != "backward":
            return None
        return lambda i: calls[i].inputs["dy"], lambda i: {
            "x": dig(got[i], ("0", "dx")), **{f"params/{k}": dig(got[i], ("0", "grads", k)) for k in ("gamma", "beta")}}

    def dtype_pairs(self, calls, got, expected, alternatives, cases):
        state_keys = [("0", "state", "running_mean"), ("0", "state", "running_var")] * (self.part == "train")
        return self.pairs(calls, got, expected, alternatives, cases,
                          [(label(k), k) for k in self.keys() + state_keys])


# --------------------------------------------------------------------------- recurrent steps
@dataclass(frozen=True)
class StepItem(CaseItem):
    """One recurrent step, forward or backward, against the reference (with a gradient check).

    `make(rng, n, d, h, dtype) -> (kwargs, inputs)` with inputs `x`, `h` (and `h_c` for the LSTM's
    cell state) and `params`. A forward item never runs the student's `step_backward`. Cases:
    random, batch of one, float32, pre-activations far beyond +-710 (where exp overflows), and a
    float32 copy of each float64 case.
    """
    module: str = "rnn"
    part: str = "forward"
    make: object = None
    driver = "step"

    def families(self, rng):
        out = []
        for tag, (n, d, h), dtype, scale in (("random", (3, 4, 5), np.float64, 1.0),
                                             ("batch of 1", (1, 3, 2), np.float64, 1.0),
                                             ("float32", (2, 3, 4), np.float32, 1.0),
                                             (LARGE_STEP, (2, 3, 4), np.float64, 1000.0)):
            kwargs, inputs = self.make(rng, n, d, h, dtype)
            inputs["x"] = inputs["x"] * scale
            for key in [k for k in ("h", "h_c") if k in inputs]:
                inputs["dh_next" + key[1:]] = randn(rng, inputs[key].shape, dtype)
            out.append(Case(tag, inputs, {"kwargs": kwargs}, inputs["x"].dtype == np.float64,
                            self.part == "backward"))
        return out

    def call(self, case, rng):
        return Call("step", {"module": self.module, "name": self.name, "kwargs": case.spec["kwargs"], "tag": case.tag,
                             "backward": self.part == "backward"}, case.inputs)

    def perturbed(self, call):
        data = {k: v for k, v in call.inputs.items() if not k.startswith("dh_next")}
        wrt = [k for k in ("x", "h", "h_c") if k in data] + [f"params/{k}" for k in data["params"]]
        return {k: v for k, v in call.spec.items() if k not in ("tag", "backward")}, data, wrt

    def scaled_families(self):
        return {LARGE_STEP}

    def outputs(self, calls):
        lstm = "h_c" in calls[0].inputs
        keys = [("h_next",), ("h_next_c",)][:1 + lstm] if self.part != "backward" else \
            [("dx",), ("dh",), ("dh_c",)][:2 + lstm] + [("grads", k) for k in calls[0].inputs["params"]]
        names = {"h_next_c": "c_next", "dh_c": "dc", "dh": "dh"}
        return [(names.get(k[-1], label(k)), k) for k in keys]

    def values(self, calls, got, expected, alternatives, cases):
        broken = [forward_broken(got[i], expected[i], calls[i].spec["tag"], ("h_next",)) for i in cases] \
            if self.part == "backward" else []
        broken = next((b for b in broken if b), None)
        return [CheckResult("matches the reference", False, broken) if broken else
                compare("matches the reference", self.dtype_pairs(calls, got, expected, alternatives, cases))]

    def gradient(self, calls, got):
        if self.part != "backward":
            return None
        lstm = "h_c" in calls[0].inputs

        def upstream(i):
            inputs = calls[i].inputs
            return np.concatenate([inputs["dh_next"].reshape(len(inputs["x"]), -1)] +
                                  ([inputs["dh_next_c"]] if lstm else []), axis=1)
        return upstream, lambda i: {
            "x": got[i].get("dx"), "h": got[i].get("dh"), "h_c": got[i].get("dh_c"),
            **{f"params/{k}": dig(got[i], ("grads", k)) for k in calls[i].inputs["params"]}}

    def dtype_pairs(self, calls, got, expected, alternatives, cases):
        return self.pairs(calls, got, expected, alternatives, cases, self.outputs(calls))
