"""Worker drivers of the sentiment assignment (a course's own drivers: docs/authoring.md).

Loaded by the trusted parent for the reference run and, inside the sandbox, by the worker that
grades a submission (`grader.sandbox.course_drivers`): NumPy and `grader.sandbox.drivers` only.

- `review_text`: one of the text functions (`tokenize`, `build_vocab`, `encode`) on the strings
  of the call's spec; its result comes back as plain arrays: lists of str as the UTF-8 bytes of
  their JSON (`json`, uint8), the ids as they were returned (`ids`).
- `sentiment_logits`: a trained classifier's logit for every review of `ids` (reviews sorted by
  length and read in batches cut to their longest review), the mask of real tokens put into the
  state of every masked pooling layer.
"""
import contextlib
import json

import numpy as np

from grader.sandbox.drivers import ELEMENTWISE, Cost, build_model, driver, model_cost, plan, planner, split_weights, xp_of

PAD_ID = 0


def _strings(value, what):
    """`value` as a list of str, or TypeError naming what it is."""
    if not isinstance(value, (list, tuple)) or not all(type(s) is str for s in value):
        kinds = sorted({type(s).__name__ for s in value}) if isinstance(value, (list, tuple)) else [type(value).__name__]
        raise TypeError(f"{what} must be a list of str, got {', '.join(kinds)}")
    return list(value)


def _as_json(value):
    return np.frombuffer(json.dumps(value, ensure_ascii=False).encode("utf-8"), dtype=np.uint8).copy()


@driver
def review_text(resolve, spec, inputs):
    """spec: {"module", "name", "kind": "tokenize" | "vocab" | "encode", "texts" | "lists" [+ "vocab"],
    "kwargs"}. tokenize: each text of `texts` in turn -> `json` (a list of token lists); vocab:
    `build_vocab(lists, **kwargs)` -> `json` (the vocabulary); encode: `encode(lists, vocab,
    **kwargs)` -> `ids`, plus `after` (the lists and vocab as they are afterwards, for purity)."""
    fn = resolve(spec["module"], spec["name"])
    kwargs = dict(spec.get("kwargs", {}))
    if spec["kind"] == "tokenize":
        return {"json": _as_json([_strings(fn(text), f"tokenize(text {i})") for i, text in enumerate(spec["texts"])])}
    lists = [list(tokens) for tokens in spec["lists"]]
    if spec["kind"] == "vocab":
        vocab = _strings(fn(lists, **kwargs), "build_vocab's result")
        return {"json": _as_json(vocab), "after": {"json": _as_json(lists)}}
    vocab = list(spec["vocab"])
    ids = fn(lists, vocab, **kwargs)
    return {"ids": ids, "after": {"json": _as_json([lists, vocab])}}


def _split_arch(arch, weights):
    """(before, after): the layers up to the last masked pooling layer and those after it, each
    with its weights renumbered from 0."""
    cut = max(i for i, layer in enumerate(arch) if layer.get("type") == "MaskedMeanPool")

    def part(lo, hi):
        sub = {f"{int(k.split('.', 1)[0]) - lo}.{k.split('.', 1)[1]}": v for k, v in weights.items()
               if lo <= int(k.split(".", 1)[0]) < hi}
        return arch[lo:hi], sub
    return part(0, cut), part(cut + 1, len(arch))


@planner("sentiment_logits")
def plan_logits(arch, spec, inputs):
    """The cost of reading every review at its own length (the sum of the real lengths); the
    masked pooling costs as much as one elementwise pass over its input."""
    ids = inputs["ids"]
    if not any(layer.get("type") == "MaskedMeanPool" for layer in arch):
        from grader.sandbox.drivers import WeightsError
        raise WeightsError("the model has no MaskedMeanPool layer")
    (before, w1), (after, w2) = _split_arch(arch, inputs["weights"])
    T = max(1, ids.shape[1])
    seq = model_cost(before, w1, (T,))
    if len(seq.shape) != 2:
        from grader.sandbox.drivers import WeightsError
        raise WeightsError(f"the masked pooling layer needs (T, H) per review, gets {seq.shape}")
    head = model_cost(after, w2, seq.shape[1:])
    tokens = int((ids != PAD_ID).sum())
    flops = (seq.flops / T) * tokens / max(1, len(ids)) + ELEMENTWISE * seq.shape[0] * seq.shape[1] + head.flops
    cost = Cost(flops, seq.held + head.held, max(seq.work, head.work), seq.fixed + head.fixed, head.shape)
    return plan(cost, len(ids), spec.get("batch_size", 250), what=f"{len(ids)} reviews", spec=spec)


def _single_blas(resolve):
    """In the trusted parent, the reference's single-threaded BLAS region (`blas_region` of
    reference/sentiment.py): the recurrent layers' small products run several times slower while
    BLAS's idle threads spin. A student's modules have no such function: their worker already runs
    with the thread limit of its sandbox."""
    try:
        region = resolve("pooling", "blas_region")
    except AttributeError:
        region = contextlib.nullcontext
    return region()


@driver
def sentiment_logits(resolve, spec, inputs):
    """The logit (N,) float64 of every review of `ids` (N, T) int64 (real ids first, PAD_ID after),
    in evaluation mode: output `logits`."""
    arch = json.loads(spec["arch"])
    ids = inputs["ids"]
    bs = plan_logits(arch, spec, inputs)
    model = build_model(resolve, arch, spec.get("modules", ["layers"]))
    params, _ = split_weights(arch, inputs["weights"])
    xp = xp_of(ids)
    lengths = (ids != PAD_ID).sum(axis=1)
    order = np.argsort(np.asarray(lengths.get() if hasattr(lengths, "get") else lengths), kind="stable")
    out = np.zeros(len(ids), dtype=np.float64)
    with _single_blas(resolve):
        _logits(model, params, arch, ids, lengths, order, bs, xp, out)
    return {"logits": xp.asarray(out)}


def _logits(model, params, arch, ids, lengths, order, bs, xp, out):
    for i in range(0, len(ids), bs):
        rows = order[i:i + bs]
        batch = ids[xp.asarray(rows)]
        T = max(1, int(lengths[xp.asarray(rows)].max()))
        batch = batch[:, :T]
        state = [{"mask": batch != PAD_ID} if layer.get("type") == "MaskedMeanPool" else {} for layer in arch]
        logits, _ = model.forward(batch, params, train=False, rng=None, state=state)
        logits = logits.reshape(len(rows), -1)[:, 0]
        out[rows] = np.asarray(logits.get() if hasattr(logits, "get") else logits, dtype=np.float64)
