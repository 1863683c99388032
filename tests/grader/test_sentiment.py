"""The `sentiment` assignment end to end: the answer key's weights (full marks), the stubs (0, not
attempted), the trained-model item's rules (a recurrent layer is required, a vocabulary with test
words is a leak, linear credit, the most confidently wrong reviews shown), its cost bound, and the
feedback naming known bugs."""
import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from grader import engine
from grader.items import models
from tests.conftest import ROOT, data_dir, dlgrade

_spec = importlib.util.spec_from_file_location(
    "submissions_harness", Path(__file__).resolve().parents[1] / "submissions" / "harness.py")
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

A = "sentiment"
ACC = "sentiment.imdb.accuracy"
WEIGHTS = ROOT / "solutions" / A / "sentiment_weights.npz"


@pytest.fixture
def needs_imdb():
    d = data_dir()
    if d is None or not (d / "aclImdb_labelled.tar.gz").is_file():
        pytest.skip("IMDB not available (set DLGRADE_DATA to a folder holding aclImdb_labelled.tar.gz)")


def item(item_id):
    return next(i for i in engine.items(A) if i.id == item_id)


def grade_json(*args):
    result = dlgrade("grade", A, *args, "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def answer_key_arrays():
    with np.load(WEIGHTS, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def test_registry():
    names = engine.assignments()
    assert A in names and names.index(A) == names.index("rnn") + 1
    assert sum(i.points for i in engine.items(A)) == 100
    assert {"MaskedMeanPool"} <= models.layer_types()
    assert set(item(ACC).layers) == {"Embedding", "LSTM", "GRU", "MaskedMeanPool", "Linear", "Dropout"}


def test_answer_key_full_marks(needs_imdb, tmp_path):
    result = dlgrade("grade", A, "solutions/sentiment", "--format", "json", "-o", tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "grades.json").read_text())
    assert report["score"] == report["max_score"] == 100, report
    assert {i["status"] for i in report["items"]} == {"passed"}
    output = next(i["output"] for i in report["items"] if i["id"] == ACC)
    assert "IMDB test reviews" in output and "most confidently wrong" in output
    assert output.count("\n  - truth ") == 5 and "p(positive) = " in output


def test_stubs_score_zero_not_attempted():
    data = grade_json("assignments/sentiment")
    assert data["score"] == 0 and data["max_score"] == 100
    assert {i["status"] for i in data["items"]} == {"not_attempted"}


def test_answer_keys_weights_are_small_and_hold_the_vocabulary():
    assert WEIGHTS.stat().st_size < 4e6
    arch, weights, meta = models.load_weights(WEIGHTS)
    assert [layer["type"] for layer in arch if layer["type"] != "Dropout"] == \
        ["Embedding", "LSTM", "MaskedMeanPool", "Linear"]
    assert meta["vocab"][:2] == ["<pad>", "<unk>"] and len(meta["vocab"]) == weights["0.W"].shape[0]
    assert meta["max_len"] == 800 and len(meta["vocab"]) == 10000
    assert answer_key_arrays()["0.W"].dtype == np.float16


def write(folder, arrays):
    folder.mkdir(exist_ok=True)
    np.savez(folder / "sentiment_weights.npz", **arrays)
    return folder


def bag_of_embeddings(arrays):
    """The answer key's embedding, mean-pooled and classified directly: no recurrent layer."""
    V, E = arrays["0.W"].shape
    arch = [{"type": "Embedding", "num_embeddings": V, "embedding_dim": E}, {"type": "MaskedMeanPool"},
            {"type": "Linear", "in_features": E, "out_features": 1}]
    return {"arch": np.array(json.dumps(arch)), "vocab": arrays["vocab"], "max_len": arrays["max_len"],
            "0.W": arrays["0.W"], "2.W": np.zeros((E, 1), np.float32), "2.b": np.zeros(1, np.float32)}


def test_bag_of_embeddings_is_refused(tmp_path):
    folder = write(tmp_path / "bag", bag_of_embeddings(answer_key_arrays()))
    out = grade_json(folder, "--item", ACC)["items"][0]
    assert out["score"] == 0 and out["status"] == "failed", out
    assert "no recurrent layer" in out["output"]


def test_other_assignments_layers_are_refused(tmp_path):
    arrays = answer_key_arrays()
    arch = json.loads(str(arrays["arch"]))
    arch[-1]["type"] = "TemporalLinear"
    arrays["arch"] = np.array(json.dumps(arch))
    out = grade_json(write(tmp_path / "temporal", arrays), "--item", ACC)["items"][0]
    assert out["score"] == 0 and "TemporalLinear" in out["output"], out


def test_vocabulary_with_test_words_is_a_leak(needs_imdb, tmp_path):
    """The answer key's weights with the vocabulary's last entries replaced by words that occur in
    the test reviews only: the accuracy barely moves, the item gives no credit and says why."""
    from grader.data import imdb_train_words, load_imdb
    from reference.sentiment import tokenize
    known = imdb_train_words()
    test_only = sorted({w for text in load_imdb("test")[0][:3000] for w in tokenize(text)} - known)[:50]
    assert len(test_only) == 50
    arrays = answer_key_arrays()
    vocab = json.loads(str(arrays["vocab"]))
    arrays["vocab"] = np.array(json.dumps(vocab[:-50] + test_only))
    out = grade_json(write(tmp_path / "leak", arrays), "--item", ACC)["items"][0]
    assert out["score"] == 0, out
    assert "50 words that never occur in the training split" in out["output"] and "test reviews" in out["output"]


def test_credit_is_linear_between_floor_and_target():
    it = item(ACC)
    y = np.array([1] * 50 + [0] * 50)
    texts = tuple(f"review {i}" for i in range(100))
    meta = {"vocab": ["<pad>", "<unk>", "review"]}
    for acc in (0.5, it.floor, (it.floor + it.target) / 2, it.target, 0.99):
        right = int(round(acc * 100))
        logits = np.where(np.arange(100) < right, np.where(y == 1, 3.0, -3.0), np.where(y == 1, -3.0, 3.0))
        result = it.evaluate_outputs([{"logits": logits}], meta, (texts, y, False))[0]
        expected = float(np.clip((right / 100 - it.floor) / (it.target - it.floor), 0, 1))
        assert result.fraction == pytest.approx(expected), (acc, result.message)
        shown = result.message.count("\n  - truth ")
        assert shown == min(5, 100 - right)
    with pytest.raises(models.WeightsError, match="logits of shape"):
        it.evaluate_outputs([{"logits": np.zeros(3)}], meta, (texts, y, False))


def test_grading_cost_is_bounded(needs_imdb):
    """The item's cost, without timing it: the answer key's evaluation plans well under the bound
    that keeps it at a few seconds (docs/items.md gives the measured time)."""
    import grader.sandbox.course_drivers  # noqa: F401  (the course's drivers)
    from grader.sandbox.driverbase import plan_call
    it = item(ACC)
    arch, weights, meta = models.load_weights(WEIGHTS)
    data = it.test_set(download=False)
    assert len(data[0]) == 25000 // it.stride and 0.45 < data[1].mean() < 0.55
    (call,) = it.calls_for(arch, weights, meta, data)
    plan = plan_call(call.driver, call.spec, call.inputs)
    assert plan.flops < 1.5e11, plan.flops


@pytest.mark.parametrize("bug, item_id, hint", [
    ("encode_pads_front", "sentiment.text.encode", "likely bug: the padding goes after the real ids"),
    ("encode_keeps_first", "sentiment.text.encode", "likely bug: a long list keeps its last max_len words"),
    ("tokenize_replaces_before_lower", "sentiment.text.tokenize", "likely bug: lower-case the text first"),
    ("vocab_ties_first_seen", "sentiment.text.vocab", "likely bug: words of equal count go in alphabetical order"),
    ("pool_counts_padding", "sentiment.pool.forward", "likely bug: padded steps must not count"),
])
def test_feedback_names_the_known_bug(bug, item_id, hint, tmp_path):
    planted = next(b for b in harness.load("bugs", A) if b.name == bug)
    folder = harness.build(planted, tmp_path / bug, A)
    result = engine.grade(A, folder, only=[item_id], jobs=1)
    assert hint in result.items[0].output, result.items[0].output


def test_check_runs_the_students_own_layers(tmp_path, needs_imdb):
    student = harness.copy_solution(tmp_path / A, A)
    shutil.copy(WEIGHTS, student / "sentiment_weights.npz")
    result = dlgrade("check", A, student, "--item", ACC)
    assert result.returncode == 0 and f"{item(ACC).points:g} / {item(ACC).points:g}" in result.stdout, \
        result.stdout + result.stderr


def test_kit_installs_in_a_fresh_venv_and_checks(tmp_path, needs_imdb):
    """The sentiment kit, no clone of the repository: the README's commands as written (they make
    the venv and install the kit's wheel), then `dlgrade check` on the stubs (every item not
    attempted) and on the answer key's files and weights (every public item passes, the trained
    model evaluated with the student's own layers by the course's driver from the wheel)."""
    import os
    import zipfile

    from tests.grader.test_kit import _blocks, _run, _table
    kit_zip = tmp_path / "sentiment-kit.zip"
    result = dlgrade("release", A, "--kit", kit_zip)
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(kit_zip) as zf:
        zf.extractall(tmp_path)
    kit = tmp_path / A
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    readme = (kit / "README.md").read_text()
    script = "\n".join(["set -euo pipefail", *(line for block in _blocks(readme, "bash") for line in block)])
    r = _run(["bash", "-x", "-c", script], tmp_path, env, timeout=1200)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    env["PATH"] = f"{kit / '.venv' / 'bin'}{os.pathsep}{env['PATH']}"
    r = _run(["dlgrade", "check"], kit, env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert set(_table(r.stdout).values()) == {"not_attempted"}, r.stdout

    for path in (ROOT / "solutions" / A).glob("*.py"):
        if path.name not in ("grading.py", "mutants.py", "drivers.py"):
            shutil.copyfile(path, kit / path.name)
    shutil.copyfile(WEIGHTS, kit / "sentiment_weights.npz")
    r = _run(["dlgrade", "check", A, "."], kit, env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert set(_table(r.stdout).values()) == {"passed"}, r.stdout
    assert "most confidently wrong" in r.stdout
