"""Trusted evaluation of submitted weights is bounded: the cost model (grader/sandbox/cost.py `plan`)
refuses, before anything runs, a model whose evaluation would cost more than the bounds of
docs/security.md, as that item's one-line failure; the answer keys, and models twice their cost,
are graded as before."""
import json
import resource
import subprocess
import sys
import time

import numpy as np
import pytest

from grader import engine
from grader.sandbox import drivers
from grader.items.models import WeightsError, load_weights
from tests.conftest import ROOT

TRAINED = ["cnn.train.accuracy", "mlp.train.accuracy", "autoencoder.fc.reconstruction",
           "autoencoder.conv.reconstruction", "rnn.names.nll", "rnn.shakespeare.nll", "rnn.series.forecast"]
MODEL_DRIVERS = ("predict", "squared_error", "text_nll", "generate", "forecast")


def conv_stack(folder, first, layers, kernel, channels):
    """cnn_weights.npz of `layers` Conv2d (3 -> channels, then channels -> channels), zero weights,
    compressed: a small, valid file whose evaluation is costly."""
    arch, weights = [], {}
    for i in range(layers):
        c = 3 if i == 0 else channels
        arch.append({"type": "Conv2d", "in_channels": c, "out_channels": channels, "kernel_size": kernel,
                     "stride": 1, "padding": kernel // 2})
        weights[f"{i}.W"] = np.zeros((channels, c, kernel, kernel), np.float32)
        weights[f"{i}.b"] = np.zeros(channels, np.float32)
    folder.mkdir()
    np.savez_compressed(folder / "cnn_weights.npz", arch=np.array(json.dumps(arch)), **weights)
    return folder


ATTACKS = {  # name: (layers, kernel, channels); what the unbounded evaluation would cost
    "1x1_256_channels": (64, 1, 256),     # ~29 GB at the batch of 500 (the Sequential keeps every cache)
    "15x15_kernels": (4, 15, 128),        # ~230 TFLOP: hours of CPU
}


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (12 << 30, 12 << 30))  # the unbounded code fails, not the machine


def grade(*args, timeout):
    return subprocess.run([sys.executable, "-m", "grader.cli", "grade", *map(str, args), "--format", "json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout, preexec_fn=_limit_memory)


@pytest.mark.parametrize("attack", list(ATTACKS), ids=list(ATTACKS))
def test_costly_weights_are_refused_quickly_with_one_line(attack, tmp_path, needs_data):
    sub = conv_stack(tmp_path / attack, 3, *ATTACKS[attack])
    assert (sub / "cnn_weights.npz").stat().st_size < 200_000  # a small file
    start = time.monotonic()
    proc = grade("cnn", sub, "--item", "cnn.train.accuracy", timeout=120)
    took = time.monotonic() - start
    report = json.loads(proc.stdout)
    item, = report["items"]
    assert item["status"] == "failed" and item["score"] == 0, item
    line = item["output"]
    assert "\n" not in line and "Traceback" not in proc.stdout + proc.stderr
    assert "cnn_weights.npz: the model needs" in line and "FLOP" in line and "(limit" in line, line
    assert took < 60, f"refused only after {took:.0f} s"


def test_refusal_costs_no_other_submission_anything(tmp_path, needs_data):
    """The answer key graded beside a refused submission keeps its full marks."""
    sub = conv_stack(tmp_path / "attack", 3, *ATTACKS["1x1_256_channels"])
    proc = grade("cnn", sub, ROOT / "solutions" / "cnn", "--item", "cnn.train.accuracy", timeout=600)
    attack, key = json.loads(proc.stdout)
    assert attack["items"][0]["status"] == "failed" and "the model needs" in attack["items"][0]["output"]
    assert key["items"][0]["status"] == "passed" and key["score"] == key["max_score"], key


# --------------------------------------------------------------------------- the cost model
def key_calls(item_id):
    """The item and the model-driver calls it makes on its answer key's weights."""
    assignment = item_id.split(".")[0]
    item = next(i for i in engine.items(assignment) if i.id == item_id)
    arch, weights, meta = load_weights(ROOT / "solutions" / assignment / item.weights)
    calls = item.calls_for(arch, weights, meta, item.test_set())
    return item, arch, weights, [c for c in calls if c.driver in MODEL_DRIVERS]


OUT = {"Linear": "out_features", "TemporalLinear": "out_features", "Conv2d": "out_channels",
       "ConvTranspose2d": "out_channels", "LSTM": "hidden_size", "RNN": "hidden_size", "GRU": "hidden_size",
       "Embedding": "embedding_dim"}
GATES = {"LSTM": 4, "RNN": 1, "GRU": 3}


def widened(arch, sample, factor):
    """The same model with every hidden width (all but the model's output) times `factor`, each
    layer's input size following, and zero weights of the shapes that go with it."""
    last = max(i for i, layer in enumerate(arch) if layer["type"] in OUT)
    arch, weights = [dict(layer) for layer in arch], {}
    for i, layer in enumerate(arch):
        t = layer["type"]
        shape = drivers.model_cost(arch[:i], weights, sample).shape if i else sample
        if t in OUT and i != last:
            layer[OUT[t]] = int(round(layer[OUT[t]] * factor))
        if t in ("Linear", "TemporalLinear"):
            layer["in_features"] = shape[-1]
            weights.update({f"{i}.W": (shape[-1], layer["out_features"]), f"{i}.b": (layer["out_features"],)})
        elif t in ("Conv2d", "ConvTranspose2d"):
            layer["in_channels"] = shape[0]
            io = (layer["out_channels"], shape[0])[::1 if t == "Conv2d" else -1]
            k = layer["kernel_size"]
            weights.update({f"{i}.W": (*io, k, k), f"{i}.b": (layer["out_channels"],)})
        elif t.startswith("BatchNorm"):
            layer["num_features"] = shape[0]
            weights.update({f"{i}.{n}": (shape[0],) for n in ("gamma", "beta", "running_mean", "running_var")})
        elif t == "Embedding":
            weights[f"{i}.W"] = (layer["num_embeddings"], layer["embedding_dim"])
        elif t in GATES:
            layer["input_size"], G = shape[-1], GATES[t] * layer["hidden_size"]
            weights.update({f"{i}.Wx": (shape[-1], G), f"{i}.Wh": (layer["hidden_size"], G), f"{i}.b": (G,)})
        weights = {k: v if isinstance(v, np.ndarray) else np.zeros(v, np.float32) for k, v in weights.items()}
    return arch, weights


@pytest.mark.parametrize("item_id", TRAINED, ids=TRAINED)
def test_answer_keys_are_within_the_bounds_at_their_batch(item_id, needs_data):
    """The answer keys run at the batch their item asks for, well under both bounds."""
    item, _, _, calls = key_calls(item_id)
    for call in calls:
        plan = drivers.plan_call(call.driver, call.spec, call.inputs)
        asked = call.spec.get("batch_size", call.spec.get("batch", call.spec.get("n", 500)))
        assert int(plan) == min(asked, len(call.inputs.get("x", call.inputs.get("inputs", [0] * asked))))
        assert plan.flops * 10 <= drivers.MAX_EVAL_FLOPS * 1.06 and plan.peak <= drivers.MAX_EVAL_BYTES / 1.9


@pytest.mark.parametrize("item_id", TRAINED, ids=TRAINED)
def test_a_model_twice_the_answer_keys_cost_is_graded(item_id, needs_data):
    """The bounds are not tight: every hidden width x2.2 (two to five times the FLOPs) still plans."""
    item, arch, weights, calls = key_calls(item_id)
    sample = (4,) if arch[0]["type"] == "Embedding" else calls[0].inputs["x"].shape[1:]  # tokens, images, windows
    arch2, weights2 = widened(arch, sample, 2.2)
    for call in calls:
        key = drivers.plan_call(call.driver, call.spec, call.inputs)
        spec = dict(call.spec, arch=json.dumps(arch2))
        wide = drivers.plan_call(call.driver, spec, dict(call.inputs, weights=weights2))
        assert wide.flops >= 2 * key.flops, (wide.flops, key.flops)


def test_the_attacks_cost_what_the_issue_says():
    """The cost model's figures for the two attacks: far above the bounds, and refused by plan."""
    x = np.empty((10000, 3, 32, 32), np.float32)  # never written: only its shape is read
    for name, (layers, kernel, channels) in ATTACKS.items():
        arch, weights = [], {}
        for i in range(layers):
            c = 3 if i == 0 else channels
            arch.append({"type": "Conv2d", "in_channels": c, "out_channels": channels, "kernel_size": kernel,
                         "padding": kernel // 2})
            weights[f"{i}.W"] = np.zeros((channels, c, kernel, kernel), np.float32)
        cost = drivers.model_cost(arch, weights, (3, 32, 32))
        assert cost.peak(500) > 20e9 if name == "1x1_256_channels" else cost.flops * 10000 > 100e12
        with pytest.raises(WeightsError, match=r"^the model needs .* \(limit "):
            drivers.plan_call("predict", {"arch": json.dumps(arch)}, {"weights": weights, "x": x})


def test_memory_is_bounded_by_a_smaller_batch():
    """A model within the FLOPs bound but with large activations is evaluated in smaller batches
    that fit the memory bound, and refused only when one example alone does not."""
    x = np.empty((1000, 3, 32, 32), np.float32)
    arch = [{"type": "Upsample2d", "scale_factor": 16}, {"type": "ReLU"}, {"type": "ReLU"}]
    plan = drivers.plan_call("predict", {"arch": json.dumps(arch)}, {"weights": {}, "x": x})
    assert 1 <= int(plan) < 500 and plan.peak <= drivers.MAX_EVAL_BYTES
    huge = [{"type": "Upsample2d", "scale_factor": 16}] * 3
    with pytest.raises(WeightsError, match=r"^the model needs .* of memory for a single example"):
        drivers.plan_call("predict", {"arch": json.dumps(huge)}, {"weights": {}, "x": x[:1]})


def test_the_kernel_size_is_read_from_the_weights():
    """The reference's Conv2d takes its kernel from W: an architecture that says 1x1 while W is
    15x15 is costed as 15x15."""
    arch = [{"type": "Conv2d", "in_channels": 3, "out_channels": 8, "kernel_size": 1}]
    small = drivers.model_cost(arch, {"0.W": np.zeros((8, 3, 1, 1), np.float32)}, (3, 32, 32))
    big = drivers.model_cost(arch, {"0.W": np.zeros((8, 3, 15, 15), np.float32)}, (3, 32, 32))
    assert big.flops > 10 * small.flops


@pytest.mark.parametrize("arch, weights, says", [
    ([{"type": "Conv2d", "in_channels": 3, "out_channels": 8, "kernel_size": 3}], {}, "array 0.W is missing"),
    ([{"type": "Linear", "in_features": 5, "out_features": 2}], {"0.W": np.zeros((5, 2))}, "does not fit"),
    ([{"type": "Mystery"}], {}, "no cost model"),
], ids=["missing W", "wrong input", "unknown layer"])
def test_models_the_cost_model_cannot_cost_are_refused(arch, weights, says):
    with pytest.raises(WeightsError, match=says):
        drivers.model_cost(arch, weights, (3, 32, 32))
