"""Speed: a layer's forward or backward timed against the reference, side by side, as a ratio."""
from dataclasses import dataclass

import numpy as np

from grader.items.base import ComparedItem
from grader.items.cases import randn
from grader.items.checks import CheckResult
from grader.items.verdicts import compare, label, pair
from grader.sandbox.calls import Call


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
