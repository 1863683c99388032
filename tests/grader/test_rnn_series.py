"""rnn.series.forecast: the temperature forecast graded one step ahead against persistence. The
shipped series, the answer key's weights (full credit, a figure), weights that must lose the item
(statistics with the held-out days, a persistence-like model), refused architectures and settings,
the credit band, and `dlgrade check` on the student's own layers."""
import hashlib
import importlib.util
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from grader import engine
from grader.items import models
from tests.conftest import ROOT, dlgrade

_spec = importlib.util.spec_from_file_location(
    "submissions_harness", Path(__file__).resolve().parents[1] / "submissions" / "harness.py")
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

A = "rnn"
ITEM = "rnn.series.forecast"
KEY = ROOT / "solutions" / A / "series_weights.npz"


def item():
    return next(i for i in engine.items(A) if i.id == ITEM)


def temperatures():
    from grader.data import load_temperatures
    return load_temperatures()


def read_key():
    with np.load(KEY, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def write(folder, arrays, **changes):
    """series_weights.npz in `folder`: `arrays` (as np.savez takes them) with `changes` applied
    (a value None drops the entry; arch and settings given as Python objects)."""
    arrays = dict(arrays)
    for key, value in changes.items():
        if value is None:
            arrays.pop(key, None)
        else:
            arrays[key] = np.array(json.dumps(value)) if key in ("arch", "settings") else value
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "series_weights.npz", **arrays)
    return folder


def grade(folder, *items):
    """{item id: item report}; a grading whose every item is an error exits 1 with its report."""
    result = dlgrade("grade", A, folder, *(a for i in items or (ITEM,) for a in ("--item", i)), "--format", "json")
    report = json.loads(result.stdout)
    errors = {i["status"] for i in report["items"]} == {"error"}
    assert result.returncode == (1 if errors else 0), result.stderr
    return {i["id"]: i for i in report["items"]}


def test_registry_points_and_training_command():
    items = engine.items(A)
    assert sum(i.points for i in items) == 100
    assert item().points == 8 and item().weights == "series_weights.npz"
    from grader.assignments.rnn import TRAIN
    assert "python train_series.py" in TRAIN
    assert KEY.stat().st_size < 50_000
    assert (ROOT / "solutions" / A / "train_series_log.txt").is_file()
    assert (ROOT / "assignments" / A / "train_series.py").is_file()


def test_the_shipped_series_is_the_official_file_byte_for_byte():
    from grader.data import temperatures_csv
    data = temperatures_csv()
    assert hashlib.md5(data).hexdigest() == "5d343d678173fadff7c8474073145e73" and len(data) == 67921
    shared = Path(os.environ.get("DLGRADE_DATA", ROOT.parent / "shared" / "data")) / "daily-min-temperatures.csv"
    if shared.is_file():
        assert shared.read_bytes() == data
    d = temperatures()
    assert d["train"].shape == (2920,) and d["test"].shape == (730,)
    assert (d["dates_train"][0], d["dates_train"][-1], d["dates_test"][0], d["dates_test"][-1]) == (
        "1981-01-01", "1988-12-30", "1989-01-01", "1990-12-31")
    assert d["train"][0] == 20.7 and d["test"][-1] == 13.0


def test_the_answer_keys_settings_are_the_training_parts_statistics():
    arch, _, meta = models.load_weights(KEY)
    train = temperatures()["train"]
    assert [layer["type"] for layer in arch] == ["LSTM", "TemporalLinear"]
    assert meta["settings"] == pytest.approx({"mean": train.mean(), "std": train.std(), "window": 30})


def test_answer_key_full_credit_with_its_figure(tmp_path):
    result = dlgrade("grade", A, "solutions/rnn", "--item", ITEM, "--format", "json", "-o", tmp_path)
    assert result.returncode == 0, result.stderr
    out = json.loads((tmp_path / "grades.json").read_text())["items"][0]
    assert out["status"] == "passed" and out["score"] == 8, out
    assert "persistence (the day before's minimum) 1.953 deg C, ratio 0.889" in out["output"]
    png = (tmp_path / A / f"{ITEM}.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000


def test_statistics_with_the_held_out_days_lose_the_item(tmp_path):
    """A leak: the normalisation computed on the whole series (1981-1990). The model is the
    answer key's, so its forecasts would still beat persistence: the item says why it scores 0."""
    d = temperatures()
    whole = np.concatenate([d["train"], d["test"]])
    folder = write(tmp_path / "leak", read_key(), settings={"mean": whole.mean(), "std": whole.std(), "window": 30})
    out = grade(folder)[ITEM]
    assert out["status"] == "failed" and out["score"] == 0, out
    assert "the normalisation is not the training part's" in out["output"] and "leak" in out["output"]


def test_the_sample_std_is_accepted(tmp_path):
    train = temperatures()["train"]
    folder = write(tmp_path / "ddof1", read_key(), settings={"mean": train.mean(), "std": train.std(ddof=1),
                                                             "window": 30})
    assert grade(folder)[ITEM]["status"] == "passed"


def test_a_persistence_like_model_scores_zero(tmp_path):
    """An RNN that passes the last day through (tanh of a small multiple, scaled back): its
    forecasts are persistence's, ratio ~1: no credit."""
    train = temperatures()["train"]
    arch = [{"type": "RNN", "input_size": 1, "hidden_size": 1},
            {"type": "TemporalLinear", "in_features": 1, "out_features": 1}]
    arrays = {"0.Wx": np.full((1, 1), 1e-3, np.float32), "0.Wh": np.zeros((1, 1), np.float32),
              "0.b": np.zeros(1, np.float32), "1.W": np.full((1, 1), 1e3, np.float32), "1.b": np.zeros(1, np.float32)}
    folder = write(tmp_path / "persistence", arrays, arch=arch,
                   settings={"mean": train.mean(), "std": train.std(), "window": 5})
    out = grade(folder)[ITEM]
    assert out["status"] == "failed" and out["score"] == 0, out
    assert "ratio 1.000" in out["output"]


@pytest.mark.parametrize("arch, arrays, message", [
    ([{"type": "Linear", "in_features": 30, "out_features": 1}],
     {"0.W": np.zeros((30, 1), np.float32), "0.b": np.zeros(1, np.float32)},
     "layer 0 is a Linear, which this assignment's model may not use "
     "(allowed: RNN, LSTM, GRU, TemporalLinear, Dropout)"),
    ([{"type": "TemporalLinear", "in_features": 1, "out_features": 1}],
     {"0.W": np.ones((1, 1), np.float32), "0.b": np.zeros(1, np.float32)},
     "the model has no recurrent layer"),
    ([{"type": "Embedding", "num_embeddings": 10, "embedding_dim": 4},
      {"type": "LSTM", "input_size": 4, "hidden_size": 2}],
     {"0.W": np.zeros((10, 4), np.float32)},
     "layer 0 is a Embedding, which this assignment's model may not use"),
], ids=["linear", "no recurrent layer", "embedding"])
def test_other_architectures_are_refused(tmp_path, arch, arrays, message):
    train = temperatures()["train"]
    folder = write(tmp_path / "arch", arrays, arch=arch,
                   settings={"mean": train.mean(), "std": train.std(), "window": 30})
    out = grade(folder)[ITEM]
    assert out["status"] == "failed" and out["score"] == 0 and message in out["output"], out


@pytest.mark.parametrize("changes, status, message", [
    ({"settings": None}, "error", "a 'settings' entry (a JSON string) with mean, std, window is required"),
    ({"settings": {"mean": 11.1, "std": 4.06}}, "error", "with mean, std, window is required"),
    ({"settings": {"mean": 11.1, "std": 4.06, "window": 2.5}}, "error", "window=2.5 must be an integer from 1 to 365"),
    ({"settings": {"mean": 11.1, "std": 0, "window": 30}}, "error", "std=0 must be > 0"),
    ({"settings": {"mean": "11.1", "std": 4.06, "window": 30}}, "error",
     "'settings' must be a JSON object of at most 64 names mapped to finite numbers"),
    ({"arch": [{"type": "LSTM", "input_size": 1, "hidden_size": 32},
               {"type": "TemporalLinear", "in_features": 32, "out_features": 2}],
      "1.W": np.zeros((32, 2), np.float16), "1.b": np.zeros(2, np.float32)}, "error",
     "the model's output has shape (730, 30, 2); expected (batch, 30, 1)"),
    ({"1.W": np.full((32, 1), np.inf, np.float32)}, "error", "must hold finite floats"),
], ids=["no settings", "no window", "fractional window", "zero std", "a string", "two outputs", "inf weights"])
def test_unusable_weights_are_refused_with_one_line(tmp_path, changes, status, message):
    out = grade(write(tmp_path / "bad", read_key(), **changes))[ITEM]
    assert out["status"] == status and out["score"] == 0 and message in out["output"], out


def test_credit_is_linear_between_floor_and_target():
    """Forecasts persistence's error times c (truth + c * (persistence - truth)): ratio c."""
    it, d = item(), temperatures()
    mean, std = float(d["train"].mean()), float(d["train"].std())
    meta = {"settings": {"mean": mean, "std": std, "window": 30}}
    series, days, _ = it.windows(d, 30)
    truth, base = series[days], series[days - 1]
    for c, credit in ((0.5, 1.0), (it.target, 1.0), ((it.target + it.floor) / 2, 0.5), (it.floor, 0.0), (1.3, 0.0)):
        pred = (truth + c * (base - truth) - mean) / std
        result = it.evaluate_outputs([{"pred": pred}], meta, d)[0]
        assert result.fraction == pytest.approx(credit), (c, result.message)
        assert f"ratio {c:.3f}" in result.message
        assert [f.name for f in result.figures] == [f"{ITEM}.png"]
    with pytest.raises(models.WeightsError, match="not finite"):
        it.evaluate_outputs([{"pred": np.full(730, np.nan)}], meta, d)
    with pytest.raises(models.WeightsError, match="expected 730 forecasts"):
        it.evaluate_outputs([{"pred": np.zeros(10)}], meta, d)


def test_check_runs_the_students_own_layers_and_saves_the_figure(tmp_path):
    student = harness.copy_solution(tmp_path / A, A)
    shutil.copy(KEY, student / "series_weights.npz")
    for name in ("public_cases.json", "public_cases.npz"):
        shutil.copy(ROOT / "assignments" / A / name, student / name)
    result = dlgrade("check", A, student, "--item", ITEM)
    assert result.returncode == 0 and "8 / 8" in result.stdout and "ratio 0.889" in result.stdout, \
        result.stdout + result.stderr
    assert (student / "feedback" / f"{ITEM}.png").read_bytes().startswith(b"\x89PNG")
