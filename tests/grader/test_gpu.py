"""--device cuda: items run on CuPy inputs in the worker, results compared on the host.

Parametrised over the device's array module (tests/devices.py): the CPU stand-in for CuPy
always (it takes the CuPy code paths and refuses what CuPy refuses, with NumPy arithmetic), real
CuPy marked `gpu` and skipped without a GPU. What only a GPU shows is listed in docs/gpu.md
("What only a GPU can show").
"""
import json
import math
import sys

import numpy as np
import pytest

from grader import engine
from grader.sandbox.runner import Call, Limits, WorkerPool, run_worker
from tests.conftest import ROOT, dlgrade
from tests.devices import DEVICE_MODULES, GPU, fake_env

from .test_runner import LAYER, submission

DEVICES = pytest.mark.parametrize("device_env", [pytest.param("fakecupy"), pytest.param("cupy", marks=GPU)], indirect=True)


@pytest.fixture
def device_env(request):
    """The environment of a `dlgrade` subprocess whose `import cupy` is the named module."""
    return fake_env() if request.param == "fakecupy" else None


@DEVICES
@pytest.mark.parametrize("assignment", engine.assignments())
def test_answer_keys_score_full_marks_on_the_device(assignment, device_env, needs_data):
    result = dlgrade("grade", assignment, f"solutions/{assignment}", "--device", "cuda", "--format", "json",
                     env=device_env)
    assert result.returncode == 0, result.stderr
    items = json.loads(result.stdout)["items"]
    failed = [f"{i['id']}: {i['status']}\n{i['output']}" for i in items
              if i["status"] != "passed" and not (".speed." in i["id"] and i["score"] > 0)]
    assert not failed, "\n".join(failed)


@DEVICES
def test_check_runs_the_public_items_on_the_device(device_env, needs_data):
    result = dlgrade("check", "mlp", "solutions/mlp", "--device", "cuda", env=device_env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    total = next(line for line in result.stdout.splitlines() if line.startswith("total")).split()
    assert total[1] == total[3], total


AGNOSTIC = '''
import cupy


class Linear:
    def __init__(self, *, in_features, out_features):
        pass

    def forward(self, x, params, *, train=False, rng=None, state=None):
        return x @ params["W"] + params["b"], (x, params["W"])

    def backward(self, dy, cache):
        x, W = cache
        return dy @ W.T, {"W": x.T @ dy, "b": dy.sum(axis=0)}


class ReLU:
    def forward(self, x, params, *, train=False, rng=None, state=None):
        xp = cupy.get_array_module(x)
        return xp.maximum(x, 0), x > 0

    def backward(self, dy, cache):
        return dy * cache, {}
'''

NUMPY_ONLY = '''
import numpy as np


class ReLU:
    def forward(self, x, params, *, train=False, rng=None, state=None):
        y = np.zeros(x.shape, dtype=x.dtype)  # a host array: breaks on CuPy inputs
        y[...] = np.maximum(x, 0)
        return y, x > 0

    def backward(self, dy, cache):
        return dy * cache, {}
'''


@DEVICE_MODULES
def test_a_submission_importing_cupy_runs_on_device_arrays(xp, tmp_path):
    (tmp_path / "layers.py").write_text(AGNOSTIC)
    report = engine.grade("mlp", tmp_path, opts=engine.Options(device="cuda"), only=["mlp.linear", "mlp.relu"])
    failed = [f"{i.id}: {i.status}\n{i.output}" for i in report.items if i.status != "passed"]
    assert not failed, "\n".join(failed)


@DEVICE_MODULES
def test_host_arrays_from_device_inputs_cost_the_item_with_a_clear_message(xp, tmp_path):
    """Known bad: np.zeros makes a host array, and CuPy will not mix it with its own."""
    (tmp_path / "layers.py").write_text(NUMPY_ONLY)
    cpu = engine.grade("mlp", tmp_path, opts=engine.Options(device="cpu"), only=["mlp.relu"])
    gpu = engine.grade("mlp", tmp_path, opts=engine.Options(device="cuda"), only=["mlp.relu"])
    assert {i.status for i in cpu.items} == {"passed"}
    assert {i.status for i in gpu.items} == {"error"}
    assert all("NumPy array" in i.output and "layers.py" in i.output for i in gpu.items), gpu.items[0].output


# --------------------------------------------------------------------------- memory on the GPU
GROW = "big = [np.ones(8 << 20) for _ in range(1000)]; return x, None"  # 64 MB at a time, up to 64 GB
AS_LIMIT = "import resource; return np.array(resource.getrlimit(resource.RLIMIT_AS), dtype=float), None"


def _calls():
    x = np.arange(6.0).reshape(2, 3)
    return [Call("layer", LAYER, {"x": x, "dy": x})]


@DEVICE_MODULES
@pytest.mark.parametrize("sandbox", [True, False], ids=["sandbox", "no-sandbox"])
def test_cuda_workers_have_no_address_space_cap_but_a_resident_memory_watchdog(xp, tmp_path, sandbox):
    limits = Limits(timeout_s=30, memory_mb=300)
    cuda = run_worker(submission(tmp_path, AS_LIMIT), _calls(), limits, device="cuda", sandbox=sandbox)
    cpu = run_worker(submission(tmp_path, AS_LIMIT), _calls(), limits, device="cpu", sandbox=sandbox)
    assert cuda.outputs[0]["0"]["y"].tolist() == [-1.0, -1.0], "RLIMIT_AS would break CUDA's address-space reservation"
    assert cpu.outputs[0]["0"]["y"].tolist() == [300 << 20] * 2
    bomb = run_worker(submission(tmp_path, GROW), _calls(), limits, device="cuda", sandbox=sandbox)
    assert bomb.status == "crashed" and "more than 300 MB of memory" in bomb.message, bomb.message
    pool = WorkerPool(device="cuda", sandbox=sandbox)
    try:
        bomb = pool.run(submission(tmp_path, GROW), _calls(), limits)
        assert bomb.status == "crashed" and "more than 300 MB of memory" in bomb.message, bomb.message
        assert pool.run(submission(tmp_path, "return x, None"), _calls(), limits).status == "ok"  # a fresh worker
    finally:
        pool.close()


# --------------------------------------------------------------------------- usage errors
NO_CUPY = "raise ImportError('libcudart.so.12: cannot open shared object file: No such file or directory')\n"
NO_GPU = '''
class _Runtime:
    @staticmethod
    def getDeviceCount():
        raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")


class cuda:
    runtime = _Runtime


def get_array_module(*arrays):
    import numpy
    return numpy
'''


@pytest.fixture(params=["no-cupy", "no-gpu"])
def missing(request, tmp_path):
    """(an environment whose `import cupy` fails or finds no GPU, the words the error must say)."""
    (tmp_path / "cupy").mkdir()
    (tmp_path / "cupy" / "__init__.py").write_text(NO_CUPY if request.param == "no-cupy" else NO_GPU)
    env = fake_env()
    env["PYTHONPATH"] = str(tmp_path)
    return env, "does not import" if request.param == "no-cupy" else "needs a CUDA device"


@pytest.mark.parametrize("command", [["grade", "mlp", "solutions/mlp"], ["check", "mlp", "assignments/mlp"]],
                         ids=["grade", "check"])
def test_device_cuda_without_cupy_or_gpu_is_a_one_line_usage_error(command, missing):
    env, words = missing
    result = dlgrade(*command, "--device", "cuda", env=env, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stdout == "" and result.stderr.count("\n") == 1 and result.stderr.startswith("error: --device cuda")
    assert words in result.stderr


@pytest.mark.parametrize("assignment, args", [("mlp", []), ("cnn", []), ("rnn", ["--dataset", "names"]),
                                              ("linear", []), ("autoencoder", [])])
def test_train_device_cuda_without_cupy_or_gpu_is_a_one_line_error(assignment, args, missing):
    import subprocess
    env, words = missing
    result = subprocess.run([sys.executable, "train.py", *args, "--device", "cuda"], cwd=ROOT / "solutions" / assignment,
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 2 and result.stdout == "", result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("train.py: error: --device cuda") and \
        ("CUDA device" in result.stderr or "cannot open" in result.stderr), result.stderr


# --------------------------------------------------------------------------- training scripts
# (assignment, small-run arguments, weights files, figures): one weights file goes to --out, more
# than one (and the figures) to --out-dir.
TRAIN = [("mlp", ["--hidden", "16", "--epochs", "1", "--train-subset", "256", "--eval-sample", "64"],
          ["mlp_weights.npz"], []),
         ("cnn", ["--arch", "c4,p", "--epochs", "1", "--train-subset", "256", "--eval-sample", "64"],
          ["cnn_weights.npz"], []),
         ("rnn", ["--dataset", "names", "--hidden", "8", "--embed", "4", "--epochs", "1", "--batch-size", "512",
                  "--time-limit", "2", "--samples", "3"], ["names_weights.npz"], []),
         ("linear", ["--epochs", "1", "--train-subset", "1000", "--batch-size", "100"],
          ["softmax_weights.npz", "svm_weights.npz"], ["softmax_templates.png", "svm_templates.png"]),
         ("autoencoder", ["--epochs-fc", "1", "--epochs-conv", "1", "--train-subset", "128"],
          ["fc_ae_weights.npz", "conv_ae_weights.npz"], ["reconstructions.png"])]

OUT_DIR = [t[0] for t in TRAIN if len(t[2]) > 1]   # the scripts that write into --out-dir


@DEVICES
@pytest.mark.parametrize("assignment, args, files, figures", TRAIN, ids=[t[0] for t in TRAIN])
def test_training_scripts_train_on_the_device(assignment, args, files, figures, device_env, needs_data, tmp_path):
    import subprocess
    out = ["--out-dir", str(tmp_path)] if assignment in OUT_DIR else ["--out", str(tmp_path / files[0])]
    result = subprocess.run([sys.executable, "train.py", *args, "--device", "cuda", *out],
                            cwd=ROOT / "solutions" / assignment, capture_output=True, text=True, timeout=600,
                            env=device_env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "saved model" in result.stdout
    for name in files:
        with np.load(tmp_path / name, allow_pickle=False) as data:  # plain host arrays, as the grader reads them
            assert "arch" in data.files and all(data[k].dtype.kind in "fU" for k in data.files)
    for name in figures:  # drawn from host arrays (matplotlib is a dependency)
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


@pytest.mark.parametrize("assignment, args, files, figures", [t for t in TRAIN if t[0] in OUT_DIR],
                         ids=[t[0] for t in TRAIN if t[0] in OUT_DIR])
def test_training_on_the_stand_in_writes_what_the_cpu_writes(assignment, args, files, figures, needs_data, tmp_path):
    """The stand-in computes with NumPy: with every draw from the host Generator, `--device cuda`
    on it and the CPU run give the same bytes (weights, figures) and the same learning curves (a
    reduction's last bit may depend on how many threads the machine's load leaves it)."""
    import subprocess
    outputs = {}
    for device, env in (("cpu", None), ("cuda", fake_env())):
        (tmp_path / device).mkdir()
        result = subprocess.run([sys.executable, "train.py", *args, "--device", device,
                                 "--out-dir", str(tmp_path / device)], cwd=ROOT / "solutions" / assignment,
                                capture_output=True, text=True, timeout=600, env=env)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        outputs[device] = {f.name: f.read_bytes() for f in sorted((tmp_path / device).iterdir())}
    assert set(outputs["cpu"]) >= set(files) | set(figures)
    assert outputs["cpu"].keys() == outputs["cuda"].keys()
    for name, data in outputs["cpu"].items():
        if name.endswith(".json"):
            cpu, cuda = (json.loads(outputs[d][name])["epochs"] for d in ("cpu", "cuda"))
            assert [r.keys() for r in cpu] == [r.keys() for r in cuda], name
            assert all(math.isclose(a[k], b[k], rel_tol=1e-12) for a, b in zip(cpu, cuda) for k in a), name
        else:
            assert data == outputs["cuda"][name], name


def test_gpu_benchmark_dry_run_takes_every_path(needs_data):
    """benchmarks/gpu.py --dry-run: the conv table and the CNN training on the GPU, or on the
    stand-in without one; the committed answer-key weights are left alone."""
    import subprocess
    weights = (ROOT / "solutions" / "cnn" / "cnn_weights.npz").read_bytes()
    result = subprocess.run([sys.executable, "benchmarks/gpu.py", "--dry-run"], cwd=ROOT, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "| geometric mean |" in result.stdout and "CNN on the GPU (dry run)" in result.stdout
    assert (ROOT / "solutions" / "cnn" / "cnn_weights.npz").read_bytes() == weights
