"""What evaluating a trained model costs, from its architecture and its weights' shapes alone.

Trained models are evaluated from a submitted architecture, in the trusted parent with the
reference layers (and, for `dlgrade check`, in a worker with the student's). Before anything
runs, a model driver computes with `plan` what the evaluation costs and refuses a model above
these bounds (docs/security.md, "Trusted evaluation of weights"). NumPy-free and standalone: the
worker loads this module by path, before `drivers.py`.
"""
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


def prod(shape):
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

        n = prod(shape)
        if t in ("Linear", "TemporalLinear"):
            D, M = w("W", 2)
            fits(len(shape) >= 1 and shape[-1] == D, f"W {(D, M)}")
            out = shape[:-1] + (M,)
            flops += prod(shape[:-1]) * 2 * D * M + ELEMENTWISE * prod(out)
            lw = 0
        elif t == "Conv2d":
            F, C, KH, KW = w("W", 4)
            s, p = hp("stride", 1), hp("padding", 0)
            fits(len(shape) == 3 and shape[0] == C, f"W {(F, C, KH, KW)}")
            Ho, Wo = (shape[1] + 2 * p - KH) // max(s, 1) + 1, (shape[2] + 2 * p - KW) // max(s, 1) + 1
            fits(Ho >= 1 and Wo >= 1, f"kernel {KH}x{KW} (stride {s}, padding {p})")
            out = (F, Ho, Wo)
            patches = Ho * Wo * KH * KW * C
            flops += 2 * patches * F + ELEMENTWISE * (prod(out) + C * (shape[1] + 2 * p) * (shape[2] + 2 * p))
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
            flops += 2 * C * cols + ELEMENTWISE * (cols + F * Hf * Wf + prod(out))
            held += n * itemsize  # x as (C, N*H*W)
            lw = cols + F * Hf * Wf
        elif t in ("MaxPool2d", "AvgPool2d"):
            k = hp("kernel_size")
            s = hp("stride", k) if layer.get("stride") is not None else k
            fits(len(shape) == 3 and k >= 1 and s >= 1 and min(shape[1:]) >= k, f"kernel_size={k}")
            out = (shape[0], (shape[1] - k) // s + 1, (shape[2] - k) // s + 1)
            flops += ELEMENTWISE * k * k * prod(out)
            held += prod(out) * itemsize  # the argmax (at most this large)
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
            flops += ELEMENTWISE * prod(out)
            lw = 0
        elif t == "Embedding":
            V, D = w("W", 2)
            fits(len(shape) == 1, f"W {(V, D)}")
            out = shape + (D,)
            flops += ELEMENTWISE * prod(out)
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
            raise WeightsError(f"layer {i}: the grader has no cost model for {t} layers (grader/sandbox/cost.py)")
        held += prod(out) * itemsize  # the output, kept by the next layer's cache
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


def plan_images(arch, weights, x, spec, default_batch, what, extra_flops=0.0, extra_bytes=0):
    """The `Plan` of a model read over images `x` (N, C, H, W) in batches of `spec["batch_size"]`
    (default `default_batch`); `extra_*`: the driver's own work per example."""
    itemsize = max(4, x.dtype.itemsize if x.dtype.kind == "f" else 4)
    cost = model_cost(arch, weights, x.shape[1:], itemsize)
    return plan(cost, len(x), spec.get("batch_size", default_batch), what=f"{len(x)} {what}",
                extra_flops=extra_flops, extra_bytes=extra_bytes, spec=spec)


def plan_text(arch, weights, rows, length, chunk, batch, spec, what):
    """Rows per batch for a text model read `chunk` tokens at a time over `rows` rows of `length`
    tokens (`plan`); the scores' log-softmax is taken in float64 (4 arrays of the scores' size)."""
    chunk = max(1, min(int(chunk), int(length)))
    per_token = model_cost(arch, weights, (1,))
    per_chunk = model_cost(arch, weights, (chunk,))
    V = per_chunk.shape[-1] if per_chunk.shape else 1
    cost = Cost(per_token.flops * length, per_chunk.held, per_chunk.work, per_chunk.fixed, per_chunk.shape)
    return plan(cost, rows, batch, what=f"{rows} {what} of {length} characters", spec=spec,
                extra_flops=4 * ELEMENTWISE * V * length, extra_bytes=4 * 8 * V * chunk)

