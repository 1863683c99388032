"""The `rnn` assignment: embeddings, RNN/LSTM/GRU with BPTT, masked temporal loss, clipping,
sampling, word2vec, character language models graded in nats per character, and a temperature
forecast graded against persistence."""
from dataclasses import dataclass

import numpy as np

from grader.items import (CASES, LARGE_STEP, AccuracyItem, Call, CheckResult, Figure, FunctionItem, LayerItem,
                          LossItem, Mutant, SamplerItem, StepItem, TextItem, VariantsItem, WeightsError, course_data,
                          force_family, randn)

ORDER = 5  # the course's week
DATA = ("names", "shakespeare")
TRAIN = ("python train.py --dataset names", "python train.py --dataset shakespeare",
         "python train_series.py")  # the kit README's training commands
# Files from earlier assignments (file here: that assignment's file), see docs/kits.md: released as
# their stubs, the student copies in their own; `dlgrade release A --kit OUT --give-earlier` gives
# the answer key's working code instead.
EARLIER = {"layers.py": "mlp/layers.py", "losses.py": "mlp/losses.py", "optim.py": "mlp/optim.py",
           "init.py": "mlp/init.py", "mlp_model.py": "mlp/model.py", "backend.py": "linear/backend.py"}

M = "solutions/rnn/mutants.py:"
TEXT_LAYERS = ("Embedding", "RNN", "LSTM", "GRU", "TemporalLinear", "Dropout")
V, EMB, HID = 7, 4, 3  # small sizes keep the gradient checks quick
GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}


def recurrent_params(rng, name, d, h, dtype):
    g = GATES[name]
    params = {"Wx": randn(rng, (d, g * h), dtype, 0.5), "Wh": randn(rng, (h, g * h), dtype, 0.5)}
    if name == "GRU":
        params.update(bx=randn(rng, (g * h,), dtype, 0.3), bh=randn(rng, (g * h,), dtype, 0.3))
    else:
        params["b"] = randn(rng, (g * h,), dtype, 0.3)
    return params


def sequence(name):
    def make(rng, shape, dtype):
        n, t, d = shape
        return ({"input_size": d, "hidden_size": HID}, randn(rng, shape, dtype),
                recurrent_params(rng, name, d, HID, dtype))
    return make


def initial_state(name):
    """A random initial state, except for a batch of one (the "no initial state" case: zeros)."""
    def make(rng, kwargs, x):
        n = len(x)
        if n == 1:
            return {}
        state = {"h": randn(rng, (n, HID), x.dtype, 0.5)}
        if name == "LSTM":
            state["c"] = randn(rng, (n, HID), x.dtype, 0.5)
        return state
    return make


def step(name):
    def make(rng, n, d, h, dtype):
        inputs = {"x": randn(rng, (n, d), dtype), "h": randn(rng, (n, h), dtype, 0.5),
                  "params": recurrent_params(rng, name, d, h, dtype)}
        if name == "LSTM":
            inputs["h_c"] = randn(rng, (n, h), dtype, 0.5)
        return {"input_size": d, "hidden_size": h}, inputs
    return make


def embedding(rng, shape, dtype):
    idx = rng.integers(0, V, shape)
    idx.flat[0] = idx.flat[-1]  # a repeated index: its gradients must accumulate
    return {"num_embeddings": V, "embedding_dim": EMB}, idx, {"W": randn(rng, (V, EMB), dtype)}


def temporal_linear(rng, shape, dtype):
    n, t, d = shape
    return ({"in_features": d, "out_features": 2}, randn(rng, shape, dtype),
            {"W": randn(rng, (d, 2), dtype, 0.5), "b": randn(rng, (2,), dtype)})


def masked_scores(pad=-1):
    """Scores (N, T, C) and targets (N, T) padded with `pad` (the loss's ignore_index); a `pad` that
    is a class index occurs only as padding."""
    def make(rng, n, c, dtype, t=4):
        targets = rng.integers(0, c, (n, t))
        targets[targets == pad] = (pad + 1) % c
        targets[:, -1] = pad  # padding at the end of every row...
        targets[0, 1] = pad   # ...and in the middle of one
        return randn(rng, (n, t, c), dtype, 2.0), targets
    return make


def clip_case(rng, dtype, k):
    grads = {"W": randn(rng, (3, 4), dtype, 2.0), "b": randn(rng, (4,), dtype, 0.5)}
    return {"grads": grads}, {"max_norm": [1.0, 100.0, 2.0][k]}


def sgns_case(rng, dtype, k, b=5, negatives=3, v=6, d=4):
    args = {"center": rng.integers(0, v, b), "context": rng.integers(0, v, b),
            "negatives": rng.integers(0, v, (b, negatives)),
            "params": {"W_in": randn(rng, (v, d), dtype, 0.5), "W_out": randn(rng, (v, d), dtype, 0.5)}}
    args["center"][1] = args["center"][0]  # repeated words accumulate
    return args, {}


def counts_case(rng, dtype, k):
    """t = 1e-3, 1e-2, then (the float32 case) t left at its default."""
    counts = np.concatenate([rng.integers(1, 10, 20), rng.integers(1000, 5000, 5), [200000]]).astype(dtype)
    return {"counts": counts}, ({"t": [1e-3, 1e-2][k]} if k < 2 else {})


# --------------------------------------------------------------------------- numerical conditions by construction
# Each "large values" family builds its inputs so that the condition it stands for holds at every
# seed (tests/grader/test_stability_cases.py checks them at 20 salts).
FAR = 1000.0  # see `spread_rows`
PRE = 2000.0  # the largest |x-part| of every gate block's pre-activation in the "> 710" families


def spread_rows(x, labels=None):
    """x (..., V) with each row (last axis, rows in C order) shifted so that row k's maximum is
    FAR * (k + 1) and its minimum at most its maximum - FAR; with `labels`, the first label that is
    not padding (negative) moves to that minimum. Without a shift every row overflows exp; a shift
    by the batch's maximum underflows rows to 0 / 0; log(softmax) is -inf at that label."""
    x = np.array(x, dtype=np.float64)
    rows = x.reshape(-1, x.shape[-1])
    for k, row in enumerate(rows):
        row += FAR * (k + 1) - row.max()
        j = int(np.argmin(row))
        row[j] = min(row[j], row.max() - FAR)
    if labels is None:
        return x
    labels = np.array(labels)
    flat = labels.reshape(-1)
    k = int(np.flatnonzero(flat >= 0)[0])
    flat[k] = int(np.argmin(rows[k]))
    return x, labels


SATURATED = 60.0  # every |x-part| of a "> 710" family: the unit is saturated, finite differences are exact


def large_preactivation(x, Wx, gates, rng):
    """x (N, D) (N >= 2) rebuilt so that every entry of x @ Wx is at least SATURATED in size and in
    every gate block some entry is >= PRE and some <= -PRE: row 0 scaled (its direction drawn again
    from `rng` while some entry of x0 @ Wx is near 0 relative to |x0| |Wx|), row 1 = -1.3 row 0,
    later rows row 0 times (-1)^k. The h and bias terms (|.| < 10) cannot undo that, and moving Wx
    or x by a finite-difference step (1e-6) moves no pre-activation by more than 1e-3 of its size."""
    x = np.array(x, dtype=np.float64)
    Wx = np.asarray(Wx, dtype=np.float64)
    size = np.linalg.norm(Wx, axis=0).max()
    for _ in range(100):
        a = x[0] @ Wx
        if np.abs(a).min() >= 1e-3 * np.linalg.norm(x[0]) * size:
            break
        x[0] = rng.standard_normal(x.shape[1]) * 1000
    blocks = np.abs(a).reshape(gates, -1)
    x[0] *= max(PRE / blocks.max(axis=1).min(), SATURATED / blocks.min())
    for k in range(1, len(x)):
        x[k] = -1.3 * x[0] if k == 1 else x[0] * (-1) ** k
    return x


@dataclass(frozen=True)
class ForcedStepItem(StepItem):
    """A StepItem whose large pre-activation family is rebuilt by `large_preactivation` (in the case,
    its float32 copy and its gradient check)."""
    gates: int = 1

    def calls(self, rng):
        return force_family(super().calls(rng), "step", LARGE_STEP, lambda inputs: {
            "x": large_preactivation(inputs["x"], inputs["params"]["Wx"], self.gates, rng)})


LARGE_SEQ = "|pre-activation| > 710 (inputs x1000)"


@dataclass(frozen=True)
class ForcedSequenceItem(LayerItem):
    """A recurrent LayerItem whose `LARGE_SEQ` family has, at every time step, pre-activations
    beyond +-PRE in every gate block and none below SATURATED in size (`large_preactivation` on each
    x[:, t]); its float32 copy follows."""
    gates: int = 1

    def families(self, rng):
        out = []
        for case in super().families(rng):
            if case.tag == LARGE_SEQ:
                x, params = case.inputs["x"], case.inputs["params"]
                x = np.stack([large_preactivation(x[:, t], params["Wx"], self.gates, rng) for t in range(x.shape[1])],
                             axis=1).astype(x.dtype)
                case = case._replace(inputs={**case.inputs, "x": x})
            out.append(case)
        return out


@dataclass(frozen=True)
class TemporalLossItem(VariantsItem, LossItem):
    """The temporal loss: its `scores x<edge>` family rebuilt by `spread_rows` (each position a row),
    and each `variants` entry (tag suffix, {field: value}: another ignore_index) run as more cases."""

    def calls(self, rng):
        calls = super().calls(rng)
        for tag in (f"scores x{s:g}" for s in self.edge):
            force_family(calls, "loss", tag, lambda inputs: dict(zip(("scores", "target"),
                                                                      spread_rows(inputs["scores"], inputs["target"]))))
        return calls


def numbered(make):
    """The families of a plain function's item from `make(rng, dtype, k)`: cases 0 and 1 in float64
    (with a gradient check where the item has `wrt`), case 2 in float32."""
    return tuple((tag, lambda rng, dtype, k=k: make(rng, dtype, k), dtype, k < 2) for k, (tag, dtype) in
                 enumerate((("float64", np.float64), ("float64, second case", np.float64), ("float32", np.float32))))


@dataclass(frozen=True)
class Sampler(SamplerItem):
    """SamplerItem whose large-logits call has its largest logit at least 100 above the next one
    after x1000 (every draw is then the argmax, by construction: p(other) < exp(-100))."""

    def calls(self, rng):
        calls = super().calls(rng)
        z = calls[4].inputs["logits"]
        top = np.sort(z[0])
        j = int(np.argmax(z[0]))
        z[0, j] = max(top[-1], top[-2] + 100.0)
        return calls


SEQ_SHAPES = (("random", (3, 4, 3), np.float64), ("batch of 1, one step, no initial state", (1, 1, 2), np.float64),
              ("float32", (2, 3, 3), np.float32))
TL_SHAPES = (("random", (3, 4, 3), np.float64), ("batch of 1, one step", (1, 1, 2), np.float64),
             ("float32", (2, 3, 3), np.float32))
LONG = (("T=200, inputs x10 (must not overflow)", (2, 200, 3), 10.0),
        (LARGE_SEQ, (2, 3, 3), 1000.0))


def sequence_items(key, name, fwd, bwd, step_fwd, step_bwd, mutants=()):
    bptt = Mutant("the gradient from step t+1 is not accumulated: at step t use dhs[:, t] plus what "
                  "flows back from step t+1", {name: M + name + "NoTimeAccumulation"})
    common = dict(name=name, module="rnn", make=sequence(name), shapes=SEQ_SHAPES, edge=LONG,
                  out_shape=lambda kw, x: (*x.shape[:2], kw["hidden_size"]), state=initial_state(name),
                  mutants=mutants + (bptt,))
    g = GATES[name]
    return [ForcedStepItem(f"rnn.{key}.step.forward", step_fwd, name=name, part="forward", make=step(name), gates=g),
            ForcedStepItem(f"rnn.{key}.step.backward", step_bwd, name=name, part="backward", make=step(name),
                           mutants=mutants, gates=g),
            ForcedSequenceItem(f"rnn.{key}.forward", fwd, part="forward", gates=g, **common),
            ForcedSequenceItem(f"rnn.{key}.backward", bwd, part="backward", gates=g, **common)]


# --------------------------------------------------------------------------- the temperature forecast
SERIES_LAYERS = ("RNN", "LSTM", "GRU", "TemporalLinear", "Dropout")
RECURRENT = ("RNN", "LSTM", "GRU")


@dataclass(frozen=True)
class ForecastItem(AccuracyItem):
    """A many-to-one forecaster of the daily minimum temperature in Melbourne, graded one step
    ahead on the held-out days (1989-1990) against persistence (tomorrow's minimum is today's).

    The weights file carries `settings` {"mean", "std", "window"}: the model reads the `window`
    days before a day, normalised as (t - mean) / std, and its output at the last step, times std
    plus mean, is its forecast of that day. mean and std must be the training part's (1981-1988;
    within `tolerance`, which the sample std meets too): statistics of the held-out days would leak
    them into the model. Credit
    from the ratio of the model's mean absolute error to persistence's on the held-out days: full
    at <= `target`, none at >= `floor`, linear in between; no credit when the statistics are not
    the training part's. The ratio is rounded to 3 decimals, as the feedback shows it. The
    feedback draws the held-out days, the forecast and the baseline.
    """
    target: float = 0.90
    floor: float = 1.0
    max_window: int = 365
    tolerance: float = 1e-3  # of the training part's std, for the stored mean and std
    zoom: int = 61           # days of the figure's second panel

    def check_arch(self, arch):
        super().check_arch(arch)
        if not any(layer["type"] in RECURRENT for layer in arch):
            raise WeightsError(f"{self.weights}: the model has no recurrent layer; the forecast must read its window "
                               f"with one ({', '.join(RECURRENT)}), then TemporalLinear to one output")

    def test_set(self, *, download: bool = True):
        return course_data("load_temperatures")(download=download)

    def settings(self, meta):
        """(mean, std, window) from the weights file's settings; WeightsError when they are unusable."""
        settings = meta.get("settings")
        keys = ("mean", "std", "window")
        if not isinstance(settings, dict) or any(k not in settings for k in keys):
            raise WeightsError(f"{self.weights}: a 'settings' entry (a JSON string) with {', '.join(keys)} is required "
                               "(train_series.py writes it)")
        mean, std, window = (settings[k] for k in keys)
        if not float(window).is_integer() or not 1 <= window <= self.max_window:
            raise WeightsError(f"{self.weights}: settings window={window!r} must be an integer from 1 to "
                               f"{self.max_window} (days)")
        if not std > 0:
            raise WeightsError(f"{self.weights}: settings std={std!r} must be > 0")
        return float(mean), float(std), int(window)

    def windows(self, data, window):
        """(the series, the index of each held-out day in it, the windows (N, window) before them)."""
        series = np.concatenate([data["train"], data["test"]])
        days = np.arange(len(data["train"]), len(series))
        return series, days, np.lib.stride_tricks.sliding_window_view(series, window)[days - window]

    def calls_for(self, arch, weights, meta, data):
        import json
        mean, std, window = self.settings(meta)
        _, _, x = self.windows(data, window)
        x = ((x - mean) / std).astype(np.float32)[:, :, None]
        spec = {"arch": json.dumps(arch), "modules": list(self.modules), "batch_size": 1000,
                "max_flops": self.max_flops}
        return [Call("forecast", spec, {"weights": weights, "x": x})]

    def evaluate_outputs(self, outputs, meta, data):
        mean, std, window = self.settings(meta)
        out = outputs[0] or {}
        pred = out.get("pred")
        series, days, _ = self.windows(data, window)
        if pred is None:
            shape = tuple(int(v) for v in np.ravel(out.get("shape", [-1])))
            raise WeightsError(f"the model's output has shape {shape}; expected (batch, {window}, 1): one value per "
                               "step, the last step's being the forecast (end with TemporalLinear(out_features=1))")
        pred = np.asarray(pred, dtype=np.float64)
        if pred.shape != days.shape or not np.isfinite(pred).all():
            raise WeightsError("the model's forecasts are not finite" if pred.shape == days.shape
                               else f"expected {len(days)} forecasts, got shape {pred.shape}")
        truth, forecast, baseline = series[days], pred * std + mean, series[days - 1]
        mae, base = float(np.abs(forecast - truth).mean()), float(np.abs(baseline - truth).mean())
        seasonal = float(np.abs(series[days - 365] - truth).mean())
        ratio = round(mae / base, 3)  # the ratio the message shows decides the credit
        credit = float(np.clip((self.floor - ratio) / (self.floor - self.target), 0.0, 1.0))
        train = data["train"]
        m, s = float(train.mean()), float(train.std())
        msg = (f"one-step-ahead forecast of the {len(days)} held-out days ({data['dates_test'][0]} to "
               f"{data['dates_test'][-1]}), each from the {window} days before it: mean absolute error "
               f"{mae:.3f} deg C, persistence (the day before's minimum) {base:.3f} deg C, ratio {ratio:.3f} "
               f"(full credit at <= {self.target:.2f}, none at >= {self.floor:.2f}; the same day a year before "
               f"errs by {seasonal:.3f} deg C)")
        if abs(mean - m) > self.tolerance * s or abs(std / s - 1) > self.tolerance:
            credit = 0.0
            msg = (f"the normalisation is not the training part's: settings mean {mean:.4f}, std {std:.4f}, but the "
                   f"{len(train)} training days ({data['dates_train'][0]} to {data['dates_train'][-1]}) have mean "
                   f"{m:.4f}, std {s:.4f} (the population std). Statistics that include the held-out days leak "
                   f"them into the model: no credit. ({msg})")
        figures = (Figure(f"{self.id}.png", f"the held-out days, your model's forecasts and persistence's "
                          f"(ratio {ratio:.3f})", _forecast_drawer(data["dates_test"], truth, forecast, baseline,
                                                                   ratio, self.zoom), size=(9.0, 5.5)),)
        return [CheckResult("held-out forecast error against persistence", credit >= 1.0, msg, credit=credit,
                            figures=figures)]


def _forecast_drawer(dates, truth, forecast, baseline, ratio, zoom):
    def draw(fig):
        top, bottom = fig.subplots(2, 1)
        t = np.arange(len(truth))
        top.plot(t, truth, color="0.6", lw=0.8, label="observed")
        top.plot(t, forecast, color="C0", lw=0.8, label="your forecast")
        top.set_title(f"daily minimum temperature, Melbourne, {dates[0]} to {dates[-1]} (held out); "
                      f"MAE ratio to persistence {ratio:.3f}", fontsize=9)
        ticks = t[::91]
        top.set_xticks(ticks, [str(dates[k]) for k in ticks], fontsize=7)
        top.set_ylabel("deg C", fontsize=8)
        top.legend(fontsize=7, loc="upper right")
        k = np.arange(min(zoom, len(truth)))
        bottom.plot(k, truth[k], "o-", color="0.5", ms=2.5, lw=0.8, label="observed")
        bottom.plot(k, forecast[k], "-", color="C0", lw=1.2, label="your forecast")
        bottom.plot(k, baseline[k], "--", color="C1", lw=1.0, label="persistence (the day before)")
        bottom.set_xticks(k[::10], [str(dates[j]) for j in k[::10]], fontsize=7)
        bottom.set_ylabel("deg C", fontsize=8)
        bottom.set_title(f"the first {len(k)} held-out days", fontsize=9)
        bottom.legend(fontsize=7, loc="upper right")
        fig.tight_layout()
    return draw


ITEMS = [
    LayerItem("rnn.embedding.forward", 2, name="Embedding", module="rnn", part="forward", make=embedding,
              shapes=CASES, out_shape=lambda kw, x: (*x.shape, kw["embedding_dim"])),
    LayerItem("rnn.embedding.backward", 3, name="Embedding", module="rnn", part="backward", make=embedding,
              shapes=CASES, out_shape=lambda kw, x: (*x.shape, kw["embedding_dim"])),
    *sequence_items("rnn", "RNN", 3, 5, 2, 3),
    *sequence_items("lstm", "LSTM", 3, 6, 3, 4,
                    mutants=(Mutant("the forget gate's bias gradient is missing", {"LSTM": M + "LSTMNoForgetBiasGrad"}),)),
    *sequence_items("gru", "GRU", 3, 6, 3, 4),
    LayerItem("rnn.temporal_linear.forward", 1, name="TemporalLinear", module="rnn", part="forward",
              make=temporal_linear, shapes=TL_SHAPES, out_shape=lambda kw, x: (*x.shape[:2], kw["out_features"])),
    LayerItem("rnn.temporal_linear.backward", 2, name="TemporalLinear", module="rnn", part="backward",
              make=temporal_linear, shapes=TL_SHAPES, out_shape=lambda kw, x: (*x.shape[:2], kw["out_features"])),
    TemporalLossItem("rnn.loss.temporal_cross_entropy", 5, name="TemporalCrossEntropyLoss", module="rnn",
             make=masked_scores(), edge=(1000.0,),
             variants=(("ignore_index=0 (class 0 is the padding)", {"make": masked_scores(0), "kwargs": {"ignore_index": 0},
                                                                    "edge": (), "special": ()}),),
             mutants=(Mutant("masked positions (target == ignore_index) must not count: leave them out of the loss and its mean",
                             {"TemporalCrossEntropyLoss": M + "TemporalCENoMask"}),)),
    FunctionItem("rnn.clip_grad_norm", 4, name="clip_grad_norm", module="text", cases=numbered(clip_case),
                 outputs=("clipped", "total_norm"), one_check=True,
                 mutants=(Mutant("clip by one global norm over all gradients, not each tensor by its own",
                                 {"clip_grad_norm": M + "clip_per_tensor"}),
                          Mutant("clipping skipped: when total_norm > max_norm scale every gradient by "
                                 "max_norm / total_norm", {"clip_grad_norm": M + "clip_skipped"}),
                          Mutant("clipping inverted: the factor is max_norm / total_norm, not total_norm / max_norm",
                                 {"clip_grad_norm": M + "clip_inverted"}))),
    Sampler("rnn.sample_next", 7),
    FunctionItem("rnn.word2vec.sgns_loss", 6, name="sgns_loss", module="word2vec", cases=numbered(sgns_case),
                 outputs=("loss", "grads"), wrt=("params/W_in", "params/W_out"), grads=("grads/W_in", "grads/W_out"),
                 one_check=True),
    FunctionItem("rnn.word2vec.keep_probability", 3, name="keep_probability", module="word2vec", cases=numbered(counts_case),
                 one_check=True),
    # max_flops: 10x the answer key's evaluation (36 and 276 GFLOP; docs/security.md): recurrent
    # layers are far slower per FLOP than the CNN whose cost sets the global bound
    TextItem("rnn.names.nll", 6, weights="names_weights.npz", corpus="names", floor=2.40, target=2.05,
             timeout=300, layers=TEXT_LAYERS, max_flops=3.7e11),
    TextItem("rnn.shakespeare.nll", 8, weights="shakespeare_weights.npz", corpus="shakespeare", floor=2.20,
             target=1.60, timeout=300, layers=TEXT_LAYERS, max_flops=2.8e12),
    # max_flops: about 100x the answer key's evaluation (730 windows of 30 days through an LSTM of 32)
    ForecastItem("rnn.series.forecast", 8, weights="series_weights.npz", modules=("rnn", "layers"), timeout=60,
                 layers=SERIES_LAYERS, max_flops=2.5e10),
]
