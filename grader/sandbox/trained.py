"""Drivers of trained models, evaluated from a submitted architecture and weights: class
predictions (`predict`), text likelihood (`text_nll`), samples (`generate`). Each refuses, before
it runs anything, a model its `@planner` costs above the bounds of `cost.py`.
"""
import json

import numpy as np

from .cost import plan_images, plan_text
from .driverbase import driver, make_rng, planner, xp_of


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
    bs = _plan_predict(arch, spec, inputs)
    model = build_model(resolve, arch, spec.get("modules", ["layers"]))
    params, state = split_weights(arch, inputs["weights"])
    preds = []
    for i in range(0, len(x), bs):
        scores, _ = model.forward(x[i:i + bs], params, train=False, rng=None, state=state)
        preds.append(scores.argmax(axis=1))
    return {"pred": xp_of(x).concatenate(preds)}


@planner("predict")
def _plan_predict(arch, spec, inputs):
    return plan_images(arch, inputs["weights"], inputs["x"], spec, 500, "images")




def _log_softmax(scores, xp):
    shifted = scores - scores.max(axis=-1, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=-1, keepdims=True))


@driver
def text_nll(resolve, spec, inputs):
    """Summed negative log-likelihood (nats) of `targets` under a trained model, read in chunks of
    `chunk` steps with the model's state carried across chunks; targets < 0 are ignored.

    inputs: `weights`, `inputs` int (S, L), `targets` int (S, L). Outputs `nll` and `count`.
    """
    arch = json.loads(spec["arch"])
    x, y = inputs["inputs"], inputs["targets"]
    rows = _plan_nll(arch, spec, inputs)
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
    _plan_generate(arch, spec, inputs)
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

@planner("text_nll")
def _plan_nll(arch, spec, inputs):
    x = inputs["inputs"]
    return plan_text(arch, inputs["weights"], len(x), x.shape[1], spec["chunk"], spec["batch"], spec, "held-out rows")


@planner("generate")
def _plan_generate(arch, spec, inputs):
    return plan_text(arch, inputs["weights"], spec["n"], spec["length"], 1, spec["n"], spec, "samples")

