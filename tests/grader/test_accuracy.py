"""The accuracy items: the answer keys' weights evaluated in float32, as graded, against float64."""
import json

import numpy as np
import pytest

from grader import engine
from grader.student import data
from grader.sandbox.drivers import predict
from grader.items.models import accuracy, load_weights
from tests.conftest import ROOT


@pytest.mark.parametrize("assignment, images", [("mlp", 10000), ("cnn", 1000)])
def test_float32_evaluation_gives_the_float64_accuracy(assignment, images, needs_data):
    """The graded evaluation runs the reference in float32 (the weights are cast on load); the
    predictions agree with float64 ones but for near ties, and the accuracy within one image."""
    item = next(i for i in engine.items(assignment) if i.id == f"{assignment}.train.accuracy")
    arch, weights, meta = load_weights(ROOT / "solutions" / assignment / item.weights)
    x, y = item.test_set()
    x, y = x[:images], y[:images]
    call, = item.calls_for(arch, weights, meta, (x, y))
    assert call.inputs["x"].dtype == np.float32 and all(w.dtype == np.float32 for w in weights.values())
    resolve = engine.reference_resolve()
    pred32 = predict(resolve, call.spec, call.inputs)["pred"]
    inputs64 = {"weights": {k: v.astype(np.float64) for k, v in weights.items()}, "x": x.astype(np.float64)}
    pred64 = predict(resolve, call.spec, inputs64)["pred"]
    assert np.sum(pred32 != pred64) <= 2, "float32 and float64 disagree beyond near ties"
    assert abs(accuracy(pred32, y) - accuracy(pred64, y)) * images <= 1


def test_accuracy_item_reads_the_test_set_once(needs_data, monkeypatch):
    """Grading many submissions: the test images are read, verified and preprocessed once."""
    item = next(i for i in engine.items("mlp") if i.id == "mlp.train.accuracy")
    first = item.test_set()
    from grader.student import arraycache
    datasets = data.course_module()  # the course's loaders (solutions/datasets.py)
    monkeypatch.setattr(arraycache, "read_arrays", lambda spec, keys: pytest.fail("read cifar10.npz again"))
    monkeypatch.setattr(datasets, "cifar10_preprocess", lambda x: pytest.fail("preprocessed again"))
    second = item.test_set()
    assert second[0] is first[0] and second[1] is first[1]
    arch, weights, meta = load_weights(ROOT / "solutions" / "mlp" / item.weights)
    assert json.loads(item.calls_for(arch, weights, meta, second)[0].spec["arch"]) == arch
