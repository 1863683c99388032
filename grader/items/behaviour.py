"""Items graded by behaviour or by a trajectory, outside the case-family pipeline: an optimizer's
steps, an initialiser's statistics, dropout, Sequential and a sampler."""
from dataclasses import dataclass, field

import numpy as np

from grader.items import checks as C
from grader.items.base import ComparedItem
from grader.items.cases import randn
from grader.items.checks import CheckResult
from grader.items.verdicts import compare, dtypes, pair, per_call
from grader.sandbox.calls import Call


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
