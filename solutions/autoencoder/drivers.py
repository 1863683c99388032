"""Worker drivers of the autoencoder assignment (a course's own drivers: docs/authoring.md).

Loaded by the trusted parent for the reference run and, inside the sandbox, by the worker that
grades a submission (`grader.sandbox.course_drivers`): NumPy and `grader.sandbox.drivers` only.
"""
import json

import numpy as np

from grader.sandbox.drivers import (ELEMENTWISE, build_model, driver, plan_images, planner, prod, split_weights,
                                    xp_of)


@planner("squared_error")
def plan_errors(arch, spec, inputs):
    values = prod(inputs["x"].shape[1:])  # the errors are computed in float64: 3 arrays of this size per sample
    return plan_images(arch, inputs["weights"], inputs["x"], spec, 500, "images", 3 * ELEMENTWISE * values,
                       3 * 8 * values)


@driver
def squared_error(resolve, spec, inputs):
    """Each sample's summed squared error between a trained model's outputs (evaluation mode, in
    batches) and `targets` (default: the inputs `x`, as for an auto-encoder), both flattened per
    sample. Outputs: `sse` (N,) float64; `shape`, the output shape of the first batch; `head`,
    the outputs of the first `spec["keep"]` samples as the model returned them (for figures).
    When an output does not have its targets' size per sample, only `shape` comes back."""
    arch = json.loads(spec["arch"])
    x = inputs["x"]
    targets = inputs.get("targets", x)
    bs = plan_errors(arch, spec, inputs)
    model = build_model(resolve, arch, spec.get("modules", ["layers"]))
    params, state = split_weights(arch, inputs["weights"])
    xp = xp_of(x)
    out = {}
    sse = []
    for i in range(0, len(x), bs):
        y, _ = model.forward(x[i:i + bs], params, train=False, rng=None, state=state)
        t = targets[i:i + bs].reshape(len(targets[i:i + bs]), -1)
        shape = getattr(y, "shape", None)
        if i == 0:
            out["shape"] = np.array([-1] if shape is None else list(shape), dtype=np.int64)
            out["head"] = y[:spec.get("keep", 0)]
        if shape is None or len(shape) == 0 or shape[0] != len(t) or y.size != t.size:
            return {"shape": np.array([-1] if shape is None else list(shape), dtype=np.int64)}
        d = y.reshape(len(t), -1).astype(xp.float64) - t
        sse.append((d * d).sum(axis=1))
    out["sse"] = xp.concatenate(sse)
    return out

