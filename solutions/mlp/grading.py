"""The `mlp` assignment: layers, activations, losses, optimizers, initialisation, a trained MLP."""
from dataclasses import dataclass

import numpy as np

from grader.items import (MLP_LAYERS, AccuracyItem, BatchNormItem, Call, CheckResult, ComparedItem, DropoutItem, Figure,
                          InitItem, InitStudyItem, LayerItem, LossItem, Mutant, OptimizerItem, SequentialItem,
                          VariantsItem, away_from_zero, force_family, randn)

ORDER = 2  # the course's week
DATA = ("cifar10",)
EARLIER = {"backend.py": "linear/backend.py"}  # given code: the CPU/GPU helpers

M = "solutions/mlp/mutants.py:"  # the course's known bugs


# --------------------------------------------------------------------------- numerical conditions by construction
# Each "large values" family states the condition it is there to trigger and builds its inputs so
# that the condition holds at every seed; `CONDITIONS` (tests/grader/test_stability_cases.py) checks it.
OVERFLOW = 710.0     # exp(710) overflows float64
FAR = 1000.0         # row maxima this far apart: a shift by the batch's maximum underflows a row to 0 / 0


def with_extremes(x):
    """x with its first entries set to +1000 and -1000: past exp's overflow on both sides."""
    x = np.array(x, dtype=np.float64)
    x.flat[:2] = [FAR, -FAR]
    return x


def spread_rows(x, labels=None):
    """x (..., C) with each row (last axis, rows in C order) shifted so that row k's maximum is
    FAR * (k + 1) and its minimum at most its maximum - FAR; with `labels` (...,), the first row's
    label (where it is not negative: padding) is moved to that minimum. Every row overflows exp
    without a shift; rows 1000 apart underflow under a shift by the batch's maximum; a label 1000
    below its row's maximum has softmax probability 0, so log(softmax) is -inf there."""
    x = np.array(x, dtype=np.float64)
    rows = x.reshape(-1, x.shape[-1])
    for k, row in enumerate(rows):
        row += FAR * (k + 1) - row.max()
        j = int(np.argmin(row))
        row[j] = min(row[j], row.max() - FAR)
    if labels is not None:
        labels = np.array(labels)
        flat = labels.reshape(-1)
        k = int(np.flatnonzero(flat >= 0)[0])
        flat[k] = int(np.argmin(rows[k]))
    return x if labels is None else (x, labels)


@dataclass(frozen=True)
class ForcedLayerItem(LayerItem):
    """A LayerItem whose `edge` families are rebuilt by `force[tag](x) -> x` (after scaling), so the
    numerical condition they stand for holds by construction; their float32 copies follow."""
    force: tuple = ()  # (tag, fn)

    def families(self, rng):
        force = dict(self.force)
        return [c._replace(inputs={**c.inputs, "x": force[c.tag](c.inputs["x"]).astype(c.inputs["x"].dtype)})
                if c.tag in force else c for c in super().families(rng)]


@dataclass(frozen=True)
class ForcedLossItem(LossItem):
    """A LossItem whose `scores x<edge>` families are rebuilt by `force(scores, target) -> (scores,
    target)`, in the case, its float32 copy and its gradient check alike."""
    force: object = None

    def calls(self, rng):
        calls = super().calls(rng)
        for tag in {f"scores x{s:g}" for s in self.edge}:
            force_family(calls, "loss", tag,
                         lambda inputs: dict(zip(("scores", "target"), self.force(inputs["scores"], inputs["target"]))))
        return calls


def bce_extremes(scores, target):
    """Logits +-1000 (sigmoid rounds to exactly 1 and 0) with targets 0.5 there."""
    target = np.array(target)
    target.flat[:2] = 0.5
    return with_extremes(scores), target


# --------------------------------------------------------------------------- behaviour-selecting arguments
@dataclass(frozen=True)
class OptimizerVariants(VariantsItem, OptimizerItem):
    pass


@dataclass(frozen=True)
class LossVariants(VariantsItem, LossItem):
    pass


@dataclass(frozen=True)
class BatchNormEps(BatchNormItem):
    """BatchNorm with `eps` given: the "odd sizes" family (and its float32 copy and gradient check)
    runs with eps=EPS_BN, where a hard-coded 1e-5 is off by about 1%."""

    def calls(self, rng):
        calls = super().calls(rng)
        for c in calls:
            if c.spec.get("tag", "").startswith("odd sizes") or c.driver.endswith("_perturbed") and \
                    calls[c.spec["case"]].spec["tag"].startswith("odd sizes"):
                c.spec["kwargs"]["eps"] = EPS_BN
                if "tag" in c.spec:
                    c.spec["tag"] = c.spec["tag"].replace("odd sizes", f"odd sizes, eps={EPS_BN:g}")
        return calls


EPS_BN = 0.1


# --------------------------------------------------------------------------- case makers
def linear(rng, shape, dtype):
    n, d = shape
    m = 3
    params = {"W": randn(rng, (d, m), dtype, 1 / np.sqrt(d)), "b": randn(rng, (m,), dtype)}
    return {"in_features": d, "out_features": m}, randn(rng, shape, dtype), params


def elementwise(**kwargs):
    def make(rng, shape, dtype):
        return dict(kwargs), away_from_zero(rng, shape, dtype) * 2, {}
    return make


def at_kink(**kwargs):
    """A special case: x holds exact zeros (the derivative there is the left branch's)."""
    def make(rng):
        x = away_from_zero(rng, (3, 6)) * 2
        x[:, ::2] = 0.0
        return dict(kwargs), x, {}
    return (("x exactly 0 at some entries (the kink: use the left branch)", make),)


def _log_softmax(s):
    s = s - s.max(axis=1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=1, keepdims=True))


def scores_and_labels(rng, n, c, dtype):
    return randn(rng, (n, c), dtype, 2.0), rng.integers(0, c, n)


def regression(rng, n, c, dtype):
    s = randn(rng, (n, c), dtype)
    return s, (s + away_from_zero(rng, (n, c), dtype, gap=0.1)).astype(dtype)


def equal_at_some_entries(rng):
    """A special case: scores equal to targets at some entries, where MAE's gradient is 0."""
    s, t = regression(rng, 4, 5, np.float64)
    t[:, ::2] = s[:, ::2]
    return s, t


def logits_and_probabilities(rng, n, c, dtype):
    return randn(rng, (n, c), dtype, 2.0), rng.random((n, c)).astype(dtype)


def log_probs_and_labels(rng, n, c, dtype):
    return _log_softmax(randn(rng, (n, c), np.float64, 2.0)).astype(dtype), rng.integers(0, c, n)


def hinge_scores(margin=1.0):
    """Scores whose margins s_j - s_y + `margin` are at least 0.05 away from the kink at 0. For a
    margin other than 1, one score of the first row sits halfway between the two kinks
    (s_j - s_y = -(1 + margin) / 2): active under `margin`, not under 1 (or the reverse), so a loss
    that keeps a margin of 1 has other gradients too, at every seed."""
    def make(rng, n, c, dtype):
        s, y = scores_and_labels(rng, n, c, np.float64)
        margins = s - s[np.arange(n), y][:, None] + margin
        near_kink = (np.abs(margins) < 0.05) & (np.arange(c)[None, :] != y[:, None])
        s = s + 0.1 * near_kink
        if margin != 1.0:
            j = (int(y[0]) + 1) % c
            s[0, j] = s[0, y[0]] - (1.0 + margin) / 2
        return s.astype(dtype), y
    return make


def two_distributions(rng, n, c, dtype):
    p = np.exp(_log_softmax(randn(rng, (n, c), np.float64, 2.0)))
    p[0, 0] = 0.0  # 0 * log 0 = 0
    p[0] /= p[0].sum()
    return _log_softmax(randn(rng, (n, c), np.float64, 2.0)).astype(dtype), p.astype(dtype)


LARGE = (("large inputs (x1000)", (3, 5), 1000.0),)
THREE_D = (("3-d input (N, T, C)", (2, 3, 4), 1.0),)


def layer_items(key, name, make, fwd, bwd, edge=(), cls=LayerItem, **kwargs):
    return [cls(f"mlp.{key}.forward", fwd, name=name, part="forward", make=make, edge=edge, **kwargs),
            cls(f"mlp.{key}.backward", bwd, name=name, part="backward", make=make, edge=edge, **kwargs)]


def stable_items(key, name, make, fwd, bwd, force, edge=LARGE):
    """Forward and backward items whose "large inputs" family is rebuilt by `force`."""
    return layer_items(key, name, make, fwd, bwd, edge, cls=ForcedLayerItem, force=((LARGE[0][0], force),))


def defaults(name, **given):
    """A special case with the layer's hyperparameters left at their defaults (`given`: for the tag)."""
    def make(rng):
        return {}, away_from_zero(rng, (3, 5)) * 2, {}
    return ((f"{name}'s defaults ({', '.join(f'{k}={v}' for k, v in given.items())})", make),)


def optimizer_variants(kwargs, defaults_tag, eps=None):
    """Variants of an optimizer's item: weight_decay=0.1, eps (when it has one) = 0.1 (where a
    hard-coded default is far off), and every hyperparameter but lr (where needed) left at its default."""
    out = [("weight_decay=0.1", {"kwargs": {**kwargs, "weight_decay": 0.1}, "small_grad": 0.0})]
    if eps:
        out.append(("eps=0.1", {"kwargs": {**kwargs, "eps": 0.1}, "small_grad": 0.0}))
    out.append((defaults_tag, {"kwargs": {k: v for k, v in kwargs.items() if k == "lr" and eps is None},
                               "small_grad": 0.0}))
    return tuple(out)


# --------------------------------------------------------------------------- the lectures' pictures, graded
# The race's settings: each optimizer's hyperparameters per surface, chosen so that every path is
# far from chaotic (a start moved by 1e-12 moves no point of any path by more than 1e-9:
# tests/grader/test_mlp_race.py), so last-bit differences between correct implementations never
# reach the tolerance.
RACERS = (
    ("SGD", {"rosenbrock": {"lr": 1e-3}, "saddle": {"lr": 0.05}, "network": {"lr": 0.1}}),
    ("Momentum", {"rosenbrock": {"lr": 1e-3, "momentum": 0.9}, "saddle": {"lr": 0.05, "momentum": 0.9},
                  "network": {"lr": 0.05, "momentum": 0.9}}),
    ("Nesterov", {"rosenbrock": {"lr": 1e-3, "momentum": 0.9}, "saddle": {"lr": 0.05, "momentum": 0.9},
                  "network": {"lr": 0.05, "momentum": 0.9}}),
    ("AdaGrad", {"rosenbrock": {"lr": 1.0, "eps": 1e-10}, "saddle": {"lr": 0.3, "eps": 1e-10},
                 "network": {"lr": 0.1, "eps": 1e-10}}),
    ("RMSProp", {"rosenbrock": {"lr": 0.03, "alpha": 0.9, "eps": 1e-8}, "saddle": {"lr": 0.05, "alpha": 0.9, "eps": 1e-8},
                 "network": {"lr": 0.01, "alpha": 0.9, "eps": 1e-8}}),
    ("Adadelta", {"rosenbrock": {"lr": 1.0, "rho": 0.95, "eps": 1e-3}, "saddle": {"lr": 1.0, "rho": 0.9, "eps": 1e-6},
                  "network": {"lr": 1.0, "rho": 0.99, "eps": 1e-6}}),
    ("Adam", {"rosenbrock": {"lr": 0.1, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
              "saddle": {"lr": 0.1, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
              "network": {"lr": 0.02, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}}),
)
SURFACES = {"rosenbrock": {"start": [-1.5, 2.0], "steps": 400, "title": "Rosenbrock's valley"},
            "saddle": {"start": [1.0, 1e-3], "steps": 150, "title": "a saddle point"},
            "network": {"steps": 300, "title": "a small tanh network's loss"}}
RACE_SEED = 3  # the network's data and start (fixed: the race is the same picture for everyone)
RACE_RTOL = 1e-6  # of a path's (or loss curve's) largest magnitude


@dataclass(frozen=True)
class RaceItem(ComparedItem):
    """The lectures' optimizer race: the student's seven optimizers from the same start on
    Rosenbrock's valley, at a saddle point and on a small network's loss (driver `race`,
    solutions/mlp/drivers.py), each path compared with the reference's. One check per optimizer,
    so a bug in one costs only its share; the figure draws every path over the contours."""
    module: str = "optim"

    def calls(self, rng):
        surfaces = {s: {k: v for k, v in setup.items() if k != "title"} for s, setup in SURFACES.items()}
        return [Call("race", {"module": self.module, "racers": [[n, kw] for n, kw in RACERS], "surfaces": surfaces,
                              "seed": RACE_SEED}, {})]

    def evaluate(self, calls, got, expected, alternatives):
        got, ref = got[0], expected[0]
        results = []
        for name, _ in RACERS:
            problem = self._differs(name, got, ref)
            if problem:
                hints = [hint for hint, alt in alternatives if not self._differs(name, got, alt[0])]
                problem += f" (likely bug: {hints[0]})" if hints else ""
            results.append(CheckResult(f"{name}'s paths follow the reference's on every surface", not problem, problem))
        figure = Figure(f"{self.id}.png", "the optimizer race: your optimizers' paths (coloured) over the reference's "
                        "(grey), on Rosenbrock's valley and at a saddle point, and the loss of a small network",
                        lambda fig: draw_race(fig, got, ref), size=(15.0, 4.6))
        return [CheckResult(results[0].name, results[0].passed, results[0].message, figures=(figure,)), *results[1:]]

    @staticmethod
    def _differs(name, got, ref):
        """Why `name`'s runs in `got` are not the reference's, or ""."""
        raised = what_raised(got, name)
        if raised:
            return raised
        for kind, size in (("path", 2), ("loss", None)):
            for surface, want in ref.get(kind, {}).get(name, {}).items():
                have = got.get(kind, {}).get(name, {}).get(surface)
                if not isinstance(have, np.ndarray) or have.shape != want.shape:
                    return f"{name} on {SURFACES[surface]['title']}: no {kind} of {len(want)} steps came back"
                tol = RACE_RTOL * (1 + np.nanmax(np.abs(want)))
                off = ~(np.abs(have.astype(np.float64) - want) <= tol)
                if off.any():
                    k = int(np.argmax(off.reshape(len(want), -1).any(axis=1)))
                    what = "point" if kind == "path" else "loss"
                    return (f"{name} on {SURFACES[surface]['title']}: step {k} leaves the reference's path: {what} "
                            f"{np.round(have[k], 6).tolist()}, reference {np.round(want[k], 6).tolist()} "
                            f"(settings {dict(RACERS)[name][surface]}, start {SURFACES[surface].get('start', 'seeded')})")
        return ""


def what_raised(got, run, who=None):
    """"" when the driver's run `run` went through; else what `who` (default: `run`) raised, as the
    driver recorded it (`failed/<run>`, `show/error/<run>`: data from the worker, shown, never trusted)."""
    failed = got.get("failed", {}).get(run)
    code = int(failed) if isinstance(failed, (np.ndarray, np.integer)) and np.size(failed) == 1 else 2
    if not code:
        return ""
    raw = got.get("show", {}).get("error", {}).get(run)
    said = bytes(raw).decode("utf-8", "replace") if \
        isinstance(raw, np.ndarray) and raw.dtype == np.uint8 and raw.ndim == 1 and raw.size <= 300 else ""
    who = who or run
    return f"{who} is not implemented yet" if code == 1 else f"{who} raised {said or 'an error'}"


def draw_race(fig, got, ref):
    """Contours of Rosenbrock's valley and of the saddle with one path per optimizer (yours
    coloured, the reference's grey underneath), then the network's loss against step."""
    from matplotlib.colors import LogNorm
    from matplotlib.ticker import FuncFormatter, NullFormatter
    axes = fig.subplots(1, 3, gridspec_kw={"wspace": 0.3})
    grids = {"rosenbrock": (np.linspace(-2, 2, 200), np.linspace(-1, 3.5, 200)),
             "saddle": (np.linspace(-1.2, 1.2, 200), np.linspace(-1.5, 1.5, 200))}
    for ax, (surface, (xs, ys)) in zip(axes, grids.items()):
        X, Y = np.meshgrid(xs, ys)
        if surface == "rosenbrock":
            Z = (1 - X) ** 2 + 100 * (Y - X ** 2) ** 2
            ax.contour(X, Y, Z, levels=np.logspace(-1, 3.5, 15), norm=LogNorm(), cmap="Greys", linewidths=0.7)
            ax.plot(1, 1, "k*", ms=10)
        else:
            Z = X ** 2 + Y ** 4 / 4 - Y ** 2 / 2
            ax.contour(X, Y, Z, levels=np.linspace(-0.25, 1.5, 15), cmap="Greys", linewidths=0.7)
            ax.plot(0, 0, "kx", ms=8)
        for k, (name, _) in enumerate(RACERS):
            want = ref.get("path", {}).get(name, {}).get(surface)
            have = got.get("path", {}).get(name, {}).get(surface)
            if isinstance(want, np.ndarray):
                ax.plot(want[:, 0], want[:, 1], color="0.75", lw=3, zorder=1)
            if isinstance(have, np.ndarray) and have.ndim == 2 and have.shape[1] == 2:
                ax.plot(have[:, 0], have[:, 1], color=f"C{k}", lw=1.3, label=name, zorder=2)
        ax.plot(*SURFACES[surface]["start"], "ko", ms=5)
        ax.set_xlim(xs[0], xs[-1])
        ax.set_ylim(ys[0], ys[-1])
        ax.set_title(SURFACES[surface]["title"], fontsize=10)
    ax = axes[2]
    for k, (name, _) in enumerate(RACERS):
        want = ref.get("loss", {}).get(name, {}).get("network")
        have = got.get("loss", {}).get(name, {}).get("network")
        if isinstance(want, np.ndarray):
            ax.semilogy(want, color="0.75", lw=3)
        if isinstance(have, np.ndarray) and have.ndim == 1:
            ax.semilogy(np.clip(have, 1e-12, None), color=f"C{k}", lw=1.3, label=name)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))  # figures never parse mathtext
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("step")
    ax.set_ylabel("mean squared error")
    ax.set_title(SURFACES["network"]["title"], fontsize=10)
    axes[0].legend(fontsize=8, loc="upper right")


XOR = {"hidden": 8, "steps": 1000, "lr": 1.0, "seed": 0, "cloud": 200}
XOR_GRID = np.linspace(-0.5, 1.5, 61)
XOR_CLOUD_TARGET = 0.95  # held-out accuracy the network reaches on the noisy cloud (the answer key: 0.985)
LOG2 = float(np.log(2.0))


@dataclass(frozen=True)
class XorItem(ComparedItem):
    """The lectures' XOR: logistic regression (the student's Linear and BCEWithLogitsLoss) cannot
    learn it, a two-layer network (their Linear, Tanh, Linear) can; both trained by the `xor`
    driver (solutions/mlp/drivers.py) with plain gradient descent from a fixed start. Checked by
    what the lecture claims, not against the reference's numbers: logistic regression ends at
    loss log 2 (every point at probability 1/2, the best a line does) with at most 75% right; the
    network is 100% right on the four points and at least `XOR_CLOUD_TARGET` on held-out points
    of a noisy XOR cloud."""
    module: str = "layers"
    needs_reference: bool = False

    def calls(self, rng):
        grid = np.stack(np.meshgrid(XOR_GRID, XOR_GRID), axis=-1).reshape(-1, 2)
        return [Call("xor", {"modules": ["layers", "losses"], **XOR}, {"grid": grid})]

    def evaluate(self, calls, got, expected, alternatives):
        got = got[0]
        truth = np.array([[0.0], [1.0], [1.0], [0.0]])

        def final(run):
            curve = got.get("loss", {}).get(run)
            return float(curve[-1]) if isinstance(curve, np.ndarray) and curve.ndim == 1 and curve.size else np.nan

        def accuracy(logits, labels):
            if not isinstance(logits, np.ndarray) or logits.shape != labels.shape:
                return np.nan
            return float(((logits > 0) == (labels > 0.5)).mean())

        raised = {run: what_raised(got, run, f"training {what}") for run, what in (
            ("linear", "logistic regression"), ("network", "the network"), ("cloud", "the network on the cloud"))}
        lr_loss, lr_acc = final("linear"), accuracy(got.get("logits", {}).get("linear"), truth)
        net_loss, net_acc = final("network"), accuracy(got.get("logits", {}).get("network"), truth)
        labels = got.get("test_labels")
        cloud_acc = accuracy(got.get("test_logits"), labels if isinstance(labels, np.ndarray) else truth)
        line = abs(lr_loss - LOG2) <= 1e-3 and lr_acc <= 0.75
        figure = Figure(f"{self.id}.png", "XOR: the decision boundaries of your logistic regression and of your "
                        "two-layer network (Linear, Tanh, Linear), trained on the four points and on a noisy cloud",
                        lambda fig: draw_xor(fig, got), size=(13.0, 4.2))
        return [CheckResult("logistic regression (your Linear, BCEWithLogitsLoss) trains to loss log 2 and at most "
                            "75% right: no line separates XOR", line,
                            "" if line else raised["linear"] or f"final loss {lr_loss:.4g} (log 2 = {LOG2:.4f}), {lr_acc:.0%} of the four "
                            "points right: a correct Linear and BCEWithLogitsLoss, trained by gradient descent, settle "
                            "at W = 0, b = 0 (mlp.linear.* and mlp.loss.bce_with_logits say which is off)",
                            figures=(figure,)),
                CheckResult("the two-layer network (your Linear, Tanh, Linear) gets all four XOR points right",
                            net_acc == 1.0, "" if net_acc == 1.0 else raised["network"] or
                            f"{net_acc:.0%} right, final loss {net_loss:.4g} (the reference's network: 100%, loss "
                            "about 0.002): mlp.linear.*, mlp.tanh.* and mlp.loss.bce_with_logits say which is off"),
                CheckResult(f"on a noisy XOR cloud, the network gets at least {XOR_CLOUD_TARGET:.0%} of held-out "
                            "points right", cloud_acc >= XOR_CLOUD_TARGET, "" if cloud_acc >= XOR_CLOUD_TARGET else
                            raised["cloud"] or f"{cloud_acc:.1%} of {XOR['cloud']} held-out points right (the reference's network: 98.5%)")]


def draw_xor(fig, got):
    """Three panels: logistic regression and the network on the four points, the network on
    the cloud; P(y = 1) as colour with the 0.5 boundary."""
    axes = fig.subplots(1, 3)
    X, Y = np.meshgrid(XOR_GRID, XOR_GRID)
    points = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    titles = {"linear": "logistic regression: no line separates XOR", "network": "two-layer network (tanh)",
              "cloud": "the network on a noisy XOR cloud"}
    for ax, (run, title) in zip(axes, titles.items()):
        logits = got.get("show", {}).get("grid", {}).get(run)
        if isinstance(logits, np.ndarray) and logits.size == X.size:
            p = 1 / (1 + np.exp(-np.clip(logits.reshape(X.shape).astype(np.float64), -50, 50)))
            ax.contourf(X, Y, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
            ax.contour(X, Y, p, levels=[0.5], colors="k", linewidths=1.5)
        else:
            ax.text(0.5, 0.5, "no output", ha="center", va="center", transform=ax.transAxes)
        ax.scatter(points[:, 0], points[:, 1], c=[0, 1, 1, 0], cmap="RdBu_r", edgecolors="k", s=80, zorder=3)
        ax.set_title(title, fontsize=10)
        ax.set_aspect("equal")


ITEMS = [
    *layer_items("linear", "Linear", linear, 2, 3, out_shape=lambda kw, x: (len(x), kw["out_features"])),
    *stable_items("sigmoid", "Sigmoid", elementwise(), 1, 1.5, with_extremes),
    *stable_items("tanh", "Tanh", elementwise(), 1, 1.5, with_extremes),
    *layer_items("relu", "ReLU", elementwise(), 1, 1.5, special=at_kink()),
    *layer_items("leaky_relu", "LeakyReLU", elementwise(negative_slope=0.1), 1, 1.5,
                 special=at_kink(negative_slope=0.1) + defaults("LeakyReLU", negative_slope=0.01)),
    *layer_items("elu", "ELU", elementwise(alpha=0.7), 1, 1.5, special=at_kink(alpha=0.7) + defaults("ELU", alpha=1.0)),
    *layer_items("softplus", "Softplus", elementwise(beta=1.5), 1, 1.5, LARGE, cls=ForcedLayerItem,
                 force=((LARGE[0][0], with_extremes),), special=defaults("Softplus", beta=1.0)),
    *stable_items("softmax", "Softmax", elementwise(), 2, 2, spread_rows, LARGE + THREE_D),
    *stable_items("log_softmax", "LogSoftmax", elementwise(), 2, 2, spread_rows, LARGE + THREE_D),
    DropoutItem("mlp.dropout.train", 3, part="train", p=0.3),
    DropoutItem("mlp.dropout.eval", 1, visibility="hidden", part="eval", p=0.3),
    BatchNormEps("mlp.batchnorm.train", 3, part="train",
                  mutants=(Mutant("the running variance must use the unbiased batch variance (N/(N-1))",
                                  {"BatchNorm1d": M + "BatchNormBiasedRunningVar"}),
                           Mutant("eps goes inside the square root: (x - mean) / sqrt(var + eps)",
                                  {"BatchNorm1d": M + "BatchNormEpsOutsideSqrt"}))),
    BatchNormEps("mlp.batchnorm.backward", 4, part="backward"),
    BatchNormEps("mlp.batchnorm.eval", 3, visibility="hidden", part="eval",
                  mutants=(Mutant("at evaluation time normalise with running_mean/running_var, not the batch's statistics",
                                  {"BatchNorm1d": M + "BatchNormEvalBatchStats"}),
                           Mutant("the running variance must use the unbiased batch variance (N/(N-1))",
                                  {"BatchNorm1d": M + "BatchNormBiasedRunningVar"}),
                           Mutant("eps goes inside the square root: (x - mean) / sqrt(var + eps)",
                                  {"BatchNorm1d": M + "BatchNormEpsOutsideSqrt"}))),
    InitItem("mlp.init.xavier_uniform", 1.5, name="xavier_uniform", distribution="uniform"),
    InitItem("mlp.init.he_normal", 1.5, name="he_normal", distribution="normal"),
    InitStudyItem("mlp.init.study", 2, init="xavier_uniform", stds=(0.01, 1.0)),
    SequentialItem("mlp.sequential", 2.5,
                   mutants=(Mutant("Sequential must pass rng on to every layer", {"Sequential": M + "SequentialDropsRng"}),)),
    LossItem("mlp.loss.mse", 2, name="MSELoss", make=regression),
    LossItem("mlp.loss.mae", 2, name="MAELoss", make=regression,
             special=(("scores equal to targets at some entries (gradient 0 there)", equal_at_some_entries),)),
    ForcedLossItem("mlp.loss.bce_with_logits", 3, name="BCEWithLogitsLoss", make=logits_and_probabilities,
                   edge=(1000.0,), force=bce_extremes),
    ForcedLossItem("mlp.loss.cross_entropy", 3, name="CrossEntropyLoss", make=scores_and_labels, edge=(1000.0,),
                   force=spread_rows),
    LossItem("mlp.loss.nll", 2, name="NLLLoss", make=log_probs_and_labels),
    LossVariants("mlp.loss.hinge", 3, name="HingeLoss", make=hinge_scores(), kwargs={"margin": 1.0},
                 variants=(("margin=2", {"make": hinge_scores(2.0), "kwargs": {"margin": 2.0}}),
                           ("margin left at its default (1)", {"kwargs": {}})),
             mutants=(Mutant("the correct class is counted in the sum: skip j == y", {"HingeLoss": M + "HingeCountsCorrectClass"}),)),
    LossItem("mlp.loss.kl_div", 3, name="KLDivLoss", make=two_distributions),
    OptimizerItem("mlp.optim.sgd", 2.5, name="SGD", kwargs={"lr": 0.1}),
    OptimizerVariants("mlp.optim.momentum", 2.5, name="Momentum", kwargs={"lr": 0.1, "momentum": 0.8},
                      variants=optimizer_variants({"lr": 0.1, "momentum": 0.8}, "default momentum=0.9"),
                  mutants=(Mutant("the momentum step has the wrong sign: p = p - lr * v", {"Momentum": M + "MomentumWrongSign"}),)),
    OptimizerVariants("mlp.optim.nesterov", 2.5, name="Nesterov", kwargs={"lr": 0.1, "momentum": 0.8},
                      variants=optimizer_variants({"lr": 0.1, "momentum": 0.8}, "default momentum=0.9"),
                  mutants=(Mutant("this is plain momentum: Nesterov steps by g + momentum * v", {"Nesterov": "reference.optim:Momentum"}),)),
    OptimizerVariants("mlp.optim.adagrad", 2.5, name="AdaGrad", kwargs={"lr": 0.1}, small_grad=1e-10,
                      variants=optimizer_variants({"lr": 0.1}, "defaults lr=0.01, eps=1e-10", eps=True)),
    OptimizerVariants("mlp.optim.rmsprop", 2.5, name="RMSProp", kwargs={"lr": 0.01, "alpha": 0.9}, small_grad=1e-8,
                      variants=optimizer_variants({"lr": 0.01, "alpha": 0.9}, "defaults lr=0.01, alpha=0.99, eps=1e-8",
                                                  eps=True)),
    OptimizerVariants("mlp.optim.adadelta", 2.5, name="Adadelta", kwargs={"lr": 1.0, "rho": 0.8}, small_grad=1e-6,
                      variants=optimizer_variants({"lr": 1.0, "rho": 0.8}, "defaults lr=1, rho=0.9, eps=1e-6", eps=True)),
    OptimizerVariants("mlp.optim.adam", 2.5, name="Adam", kwargs={"lr": 0.01, "beta1": 0.8, "beta2": 0.9},
                      small_grad=1e-8,
                      variants=optimizer_variants({"lr": 0.01, "beta1": 0.8, "beta2": 0.9},
                                                  "defaults lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8", eps=True)[1:],
                  mutants=(Mutant("Adam without bias correction: divide m by (1 - beta1**t) and v by (1 - beta2**t)",
                                  {"Adam": M + "AdamNoBiasCorrection"}),)),
    OptimizerItem("mlp.optim.sgd.weight_decay", 0.75, visibility="hidden", name="SGD",
                  kwargs={"lr": 0.1, "weight_decay": 0.1}),
    OptimizerItem("mlp.optim.adam.weight_decay", 0.75, visibility="hidden", name="Adam",
                  kwargs={"lr": 0.01, "weight_decay": 0.1}, small_grad=1e-8),
    RaceItem("mlp.optim.race", 3.5,
             mutants=(Mutant("RMSProp's average of squared gradients must weigh the new one by (1 - alpha)",
                             {"RMSProp": M + "RMSPropNoLeak"}),
                      Mutant("the momentum step has the wrong sign: p = p - lr * v", {"Momentum": M + "MomentumWrongSign"}),
                      Mutant("this is plain momentum: Nesterov steps by g + momentum * v",
                             {"Nesterov": "reference.optim:Momentum"}),
                      Mutant("Adam without bias correction: divide m by (1 - beta1**t) and v by (1 - beta2**t)",
                             {"Adam": M + "AdamNoBiasCorrection"}))),
    XorItem("mlp.xor", 2),
    AccuracyItem("mlp.train.accuracy", 8, weights="mlp_weights.npz", floor=0.40, target=0.52, timeout=120,
                 layers=MLP_LAYERS),
]
