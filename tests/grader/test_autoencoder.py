"""The `autoencoder` assignment end to end: the answer key's weights, the stubs, the
reconstruction items (bottleneck rule, credit band, figures) and the known-bug hints."""
import importlib.util
import json
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

A = "autoencoder"
RECON = ("autoencoder.fc.reconstruction", "autoencoder.conv.reconstruction")


def item(item_id):
    return next(i for i in engine.items(A) if i.id == item_id)


def write_weights(path, arch, arrays):
    np.savez(path, arch=np.array(json.dumps(arch)), **arrays)


def grade_json(*args):
    result = dlgrade("grade", A, *args, "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def answer_key(tmp_path_factory):
    out = tmp_path_factory.mktemp("ae_out")
    result = dlgrade("grade", A, "solutions/autoencoder", "--format", "json", "-o", out)
    assert result.returncode == 0, result.stderr
    return json.loads((out / "grades.json").read_text()), out


def test_registry():
    assert A in engine.assignments() and engine.assignments().index(A) == engine.assignments().index("cnn") + 1
    assert sum(i.points for i in engine.items(A)) == 100
    assert {"Upsample2d", "ConvTranspose2d"} <= models.layer_types()
    assert {"Upsample2d", "ConvTranspose2d"} <= set(item("autoencoder.conv.reconstruction").layers)
    assert "Conv2d" not in item("autoencoder.fc.reconstruction").layers


def test_answer_key_full_marks_with_figures(answer_key, needs_data):
    report, out = answer_key
    assert report["score"] == report["max_score"] == 100, report
    assert {i["status"] for i in report["items"]} == {"passed"}
    for item_id in RECON:
        output = next(i["output"] for i in report["items"] if i["id"] == item_id)
        assert "reconstruction error 0.00" in output and "1000 CIFAR-10 test images" in output
        png = (out / "autoencoder" / f"{item_id}.png").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 10_000
        assert f"{item_id}.png" in (out / "autoencoder" / "feedback.txt").read_text()


def test_stubs_score_zero_not_attempted():
    data = grade_json("assignments/autoencoder")
    assert data["score"] == 0 and data["max_score"] == 100
    assert {i["status"] for i in data["items"]} == {"not_attempted"}


def test_weights_are_small():
    for name in ("fc_ae_weights.npz", "conv_ae_weights.npz"):
        assert (ROOT / "solutions" / A / name).stat().st_size < 4e6


def test_layer_sizes_of_the_answer_keys_models():
    from grader.assignments.autoencoder import layer_sizes
    for name in ("fc_ae_weights.npz", "conv_ae_weights.npz"):
        arch, _, _ = models.load_weights(ROOT / "solutions" / A / name)
        shape, sizes = layer_sizes(arch)
        assert np.prod(shape) == 3072 and min(sizes) == 256


@pytest.mark.parametrize("arch, message", [
    ([{"type": "Conv2d", "in_channels": 4, "out_channels": 3, "kernel_size": 1}], "in_channels=4"),
    ([{"type": "Flatten"}, {"type": "Linear", "in_features": 100, "out_features": 3}], "in_features=100"),
    ([{"type": "ConvTranspose2d", "in_channels": 3, "out_channels": 3, "kernel_size": 3, "stride": 2,
       "output_padding": 2}], "output_padding=2 must be smaller than stride=2"),
    ([{"type": "Upsample2d", "scale_factor": 16}], "more than"),
])
def test_layer_sizes_refuses_what_does_not_fit(arch, message):
    from grader.assignments.autoencoder import layer_sizes
    with pytest.raises(models.WeightsError, match=message):
        layer_sizes(arch)


def test_no_bottleneck_is_refused(tmp_path, needs_data):
    """A 1x1 identity convolution reconstructs perfectly, and earns nothing."""
    W = np.eye(3, dtype=np.float32).reshape(3, 3, 1, 1)
    write_weights(tmp_path / "conv_ae_weights.npz",
                  [{"type": "Conv2d", "in_channels": 3, "out_channels": 3, "kernel_size": 1}],
                  {"0.W": W, "0.b": np.zeros(3, np.float32)})
    out = grade_json(tmp_path, "--item", "autoencoder.conv.reconstruction")["items"][0]
    assert out["score"] == 0 and out["status"] == "failed", out
    assert "the narrowest layer outputs 3072 values per image" in out["output"] and "at most 256" in out["output"]


def test_wrong_output_size_and_wrong_layer_types_are_refused(tmp_path, needs_data):
    write_weights(tmp_path / "fc_ae_weights.npz",
                  [{"type": "Flatten"}, {"type": "Linear", "in_features": 3072, "out_features": 10}],
                  {"1.W": np.zeros((3072, 10), np.float32), "1.b": np.zeros(10, np.float32)})
    shutil.copy(ROOT / "solutions" / A / "conv_ae_weights.npz", tmp_path / "conv_ae_weights.npz")
    fc_as_conv = tmp_path / "swap"
    fc_as_conv.mkdir()
    shutil.copy(ROOT / "solutions" / A / "conv_ae_weights.npz", fc_as_conv / "fc_ae_weights.npz")
    out = {i["id"]: i for i in grade_json(tmp_path, "--item", "autoencoder.fc")["items"]}
    assert "outputs 10 values per image" in out["autoencoder.fc.reconstruction"]["output"]
    out = grade_json(fc_as_conv, "--item", "autoencoder.fc.reconstruction")["items"][0]
    assert out["status"] == "failed" and "layer 0 is a Conv2d" in out["output"], out


def test_mean_image_scores_zero(tmp_path, needs_data):
    """Predicting the mean image for every image sits at the floor: no credit."""
    from grader.student.data import load_cifar10
    mean = (load_cifar10("train")[0].reshape(-1, 3072).mean(axis=0) / 255).astype(np.float32)
    write_weights(tmp_path / "fc_ae_weights.npz",
                  [{"type": "Flatten"}, {"type": "Linear", "in_features": 3072, "out_features": 1},
                   {"type": "Linear", "in_features": 1, "out_features": 3072}],
                  {"1.W": np.zeros((3072, 1), np.float32), "1.b": np.zeros(1, np.float32),
                   "2.W": np.zeros((1, 3072), np.float32), "2.b": mean})
    out = grade_json(tmp_path, "--item", "autoencoder.fc.reconstruction")["items"][0]
    assert out["score"] == 0 and out["status"] == "failed", out
    assert "reconstruction error 0.06" in out["output"]


def test_credit_is_linear_between_floor_and_target():
    it = item("autoencoder.conv.reconstruction")
    x = np.full((10, 3, 32, 32), 0.5, np.float32)
    for err, credit in ((it.target, 1.0), (it.target / 2, 1.0), (it.floor, 0.0), (1.0, 0.0),
                        ((it.floor + it.target) / 2, 0.5)):
        sse = np.full(10, err * 3072)
        result = it.evaluate_outputs([{"sse": sse, "head": x[:8]}], {}, (x,))[0]
        assert result.fraction == pytest.approx(credit), (err, result.message)
        assert [f.name for f in result.figures] == ["autoencoder.conv.reconstruction.png"]
    with pytest.raises(models.WeightsError, match="not finite"):
        it.evaluate_outputs([{"sse": np.full(10, np.nan)}], {}, (x,))
    with pytest.raises(models.WeightsError, match="expected 3072 values per image"):
        it.evaluate_outputs([{"shape": np.array([10, 5])}], {}, (x,))


def test_check_runs_the_students_own_layers_and_saves_the_figures(tmp_path, needs_data):
    student = harness.copy_solution(tmp_path / A, A)
    for name in ("fc_ae_weights.npz", "conv_ae_weights.npz"):
        shutil.copy(ROOT / "solutions" / A / name, student / name)
    result = dlgrade("check", A, student, "--item", "autoencoder.fc.reconstruction",
                     "--item", "autoencoder.conv.reconstruction")
    assert result.returncode == 0 and "38 / 38" in result.stdout, result.stdout + result.stderr
    for item_id in RECON:
        assert (student / "feedback" / f"{item_id}.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("bug, item_id, hint", [
    ("upsample_backward_top_left", "autoencoder.upsample.backward", "dx is the SUM of dy over the block"),
    ("convtranspose_kernel_flipped", "autoencoder.conv_transpose.forward", "likely bug: the kernel is flipped"),
    ("convtranspose_backward_flipped_kernel", "autoencoder.conv_transpose.backward",
     "likely bug: dx uses the kernel flipped"),
])
def test_feedback_names_the_known_bug(bug, item_id, hint, tmp_path):
    planted = next(b for b in harness.load("bugs", A) if b.name == bug)
    folder = harness.build(planted, tmp_path / bug, A)
    result = engine.grade(A, folder, only=[item_id], jobs=1)
    assert hint in result.items[0].output, result.items[0].output


def test_kit_holds_no_reference_solution_or_known_bug_code(tmp_path):
    """The autoencoder kit: given code (links into mlp/cnn) is there by design; the reference,
    the known bugs and the answers of autoencoder.py are not."""
    from tests.grader.test_kit import _archive_texts, _function_lines, _solution_lines
    kit = tmp_path / "autoencoder-kit.zip"
    result = dlgrade("release", A, "--kit", kit)
    assert result.returncode == 0, result.stderr
    texts = _archive_texts(kit)
    assert {"autoencoder/autoencoder.py", "autoencoder/CONTRACT.md", "autoencoder/public_cases.json"} <= set(texts)
    secret, given = {}, set()
    for path in sorted((ROOT / "reference").glob("*.py")):
        secret.update(_function_lines(path))
    secret.update(_function_lines(ROOT / "solutions" / A / "mutants.py"))
    for path in sorted((ROOT / "solutions" / A).glob("*.py")):
        lines, outside = _solution_lines(path)
        given |= outside | (set(lines) if path.is_symlink() else set())
        if not path.is_symlink():
            secret.update(lines)
    secret = {line: where for line, where in secret.items() if line not in given}
    assert sum("autoencoder" in where for where in secret.values()) > 20
    leaks = [f"{where}: {line!r} in {name}" for line, where in secret.items()
             for name, text in texts.items() if line in text]
    assert not leaks, "\n".join(leaks[:20])
    contract = texts["autoencoder/CONTRACT.md"]
    assert "# The `autoencoder` assignment" in contract and "# The `rnn` assignment" not in contract
    hidden = {i.id for i in engine.items(A) if i.visibility == "hidden"}
    assert hidden and not hidden & set(json.loads(texts["autoencoder/public_cases.json"]))
