"""Worker drivers of the rnn assignment (a course's own drivers: docs/authoring.md).

Loaded by the trusted parent for the reference run and, inside the sandbox, by the worker that
runs `dlgrade check` on the student's own layers (`grader.sandbox.course_drivers`): NumPy and
`grader.sandbox.drivers` only.
"""
import json

import numpy as np

from grader.sandbox.drivers import build_model, driver, plan_images, planner, split_weights, xp_of


@planner("forecast")
def plan_forecast(arch, spec, inputs):
    return plan_images(arch, inputs["weights"], inputs["x"], spec, 1000, "windows")


@driver
def forecast(resolve, spec, inputs):
    """One-step-ahead forecasts of a trained many-to-one model: the windows `x` (N, T, 1) go
    through the model in evaluation mode, in batches, and the forecast of window n is the model's
    output at its last step, `y[n, -1, 0]`. Output `pred` (N,) float64. When the model's output is
    not (batch, T, 1), only its `shape` (of the first batch) comes back."""
    arch = json.loads(spec["arch"])
    x = inputs["x"]
    bs = plan_forecast(arch, spec, inputs)
    model = build_model(resolve, arch, spec.get("modules", ["rnn", "layers"]))
    params, _ = split_weights(arch, inputs["weights"])
    xp = xp_of(x)
    preds = []
    for i in range(0, len(x), bs):
        batch = x[i:i + bs]
        # a fresh state per batch: every window starts from a zero hidden state
        y, _ = model.forward(batch, params, train=False, rng=None, state=[{} for _ in arch])
        shape = getattr(y, "shape", None)
        if shape is None or tuple(shape) != (len(batch), x.shape[1], 1):
            return {"shape": np.array([-1] if shape is None else list(shape), dtype=np.int64)}
        preds.append(y[:, -1, 0].astype(xp.float64))
    return {"pred": xp.concatenate(preds)}
