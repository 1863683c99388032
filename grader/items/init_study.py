"""The lecture's initialisation study, graded: the activation statistics of a deep tanh network on
the student's weights, computed in the trusted process, and its figure."""
from dataclasses import dataclass

import numpy as np

from grader.items import checks as C
from grader.items.base import ComparedItem
from grader.items.checks import CheckResult
from grader.reports.figures import Figure
from grader.sandbox.calls import Call


STUDY_BINS = np.linspace(-1.0, 1.0, 42)  # 41 bins over tanh's range, one centred on 0
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
    from the spread between random draws (docs/items.md, "Initialisation study"). A correct initialiser
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
