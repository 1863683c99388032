"""GPU figures for docs/gpu.md: conv forward+backward on CuPy against PyTorch on the same GPU,
and the time to train the answer-key CNN to its CIFAR-10 target on the GPU.

    python benchmarks/gpu.py                  # a CUDA GPU, CuPy and a CUDA build of torch
    python benchmarks/gpu.py --dry-run        # anywhere: proves the script runs; figures mean nothing
    python benchmarks/gpu.py --skip-train     # the conv table only (about a minute)

Part 1, per CIFAR-sized layer of benchmarks/conv.py (N=64, float32): the median of --repeats
interleaved forward+backward runs (one warm-up each, not counted) of the reference Conv2d
(`reference/conv.py`, the speed yardstick) and of the answer key's Conv2d
(`solutions/cnn/conv.py`) on CuPy arrays, and of `torch.nn.functional.conv2d` + autograd on the
same GPU (cuDNN, `torch.backends.cudnn.benchmark = True`); every run is timed with CUDA events
recorded around it on the current stream after a device synchronisation (CuPy:
`cupy.cuda.Event`, torch: `torch.cuda.Event`), so queued kernels are counted and nothing
earlier is. Prints each time, the ratios to torch, and their geometric means.

Part 2: `solutions/cnn/train.py --device cuda` with its defaults (or --epochs) in a subprocess;
prints the wall time of each epoch, the first epoch whose validation accuracy reaches the
grader's target for `cnn.train.accuracy`, and the saved model's test accuracy against that target.

--dry-run: tiny layers (N=4), one repeat and a two-layer CNN on 256 images for one epoch, on a
GPU when there is one, else on the CPU stand-in for CuPy (tests/fakecupy, NumPy underneath) with
torch on the CPU: every code path of the real run is taken, and the numbers are not GPU figures.
"""
import argparse
import importlib.util
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FAKE = ROOT / "tests" / "fakecupy"
N = 64
LAYERS = [  # (C, F, H, W, kernel, stride, padding): those of benchmarks/conv.py
    (3, 32, 32, 32, 3, 1, 1),
    (32, 32, 32, 32, 3, 1, 1),
    (64, 64, 16, 16, 3, 1, 1),
    (128, 128, 8, 8, 3, 1, 1),
    (3, 16, 32, 32, 5, 2, 2),
]


def devices(dry_run):
    """(cupy module, torch module, torch device, what): a real GPU when there is one; for a dry run
    without one, the CPU stand-in and torch on the CPU. Exits 2 with one line otherwise."""
    from reference import backend
    problem = backend.cuda_problem()
    if problem and not dry_run:
        _usage_error(f"{problem} (use --dry-run to check the script without one)")
    if problem:
        sys.path.insert(0, str(FAKE))
        for k in [k for k in sys.modules if k == "cupy" or k.startswith("cupy.")]:
            del sys.modules[k]
        import cupy
        backend._cupy = cupy
    else:
        cupy = backend._cupy
    try:
        import torch
    except ImportError:
        torch = None
    device = "cuda" if torch is not None and torch.cuda.is_available() else "cpu"
    if device == "cpu" and not problem and not dry_run:
        _usage_error("this torch has no CUDA (install a CUDA build of torch to compare on the GPU)")
    if torch is not None and device == "cuda":
        torch.backends.cudnn.benchmark = True
    what = ("CPU stand-in for CuPy (no GPU): dry run, not GPU figures" if problem else
            f"CuPy {cupy.__version__} on {cupy.cuda.runtime.getDeviceProperties(0)['name'].decode()}")
    return cupy, torch, device, what


def _usage_error(message):
    print(f"gpu.py: error: {message}", file=sys.stderr)
    sys.exit(2)


def cupy_timer(cp):
    def run(fn):
        cp.cuda.Device().synchronize()
        start, end = cp.cuda.Event(), cp.cuda.Event()
        start.record()
        fn()
        end.record()
        end.synchronize()
        return cp.cuda.get_elapsed_time(start, end) / 1e3
    return run


def torch_timer(torch, device):
    def run(fn):
        if device != "cuda":
            start = time.perf_counter()
            fn()
            return time.perf_counter() - start
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3
    return run


def answer_key_conv():
    """The answer key's Conv2d class (solutions/cnn/conv.py, imported with its folder on the path)."""
    folder = ROOT / "solutions" / "cnn"
    sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location("answer_key_conv", folder / "conv.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Conv2d


def make(n, c, f, h, w, k, s, p, seed=0):
    rng = np.random.default_rng(seed)
    W = (rng.standard_normal((f, c, k, k)) * math.sqrt(2 / (c * k * k))).astype(np.float32)
    b = np.zeros(f, dtype=np.float32)
    x = rng.standard_normal((n, c, h, w), dtype=np.float32)
    ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    dy = rng.standard_normal((n, f, ho, wo), dtype=np.float32)
    return {"W": W, "b": b}, x, dy


def layer_step(cls, cp, params, x, dy, k, s, p):
    layer = cls(in_channels=x.shape[1], out_channels=params["W"].shape[0], kernel_size=k, stride=s, padding=p)
    params = {key: cp.asarray(v) for key, v in params.items()}
    x, dy = cp.asarray(x), cp.asarray(dy)

    def step():
        y, cache = layer.forward(x, params, train=True)
        dx, grads = layer.backward(dy, cache)
        return y, dx, grads["W"]
    return step


def torch_step(torch, device, params, x, dy, s, p):
    xt = torch.tensor(x, device=device, requires_grad=True)
    wt, bt = (torch.tensor(params[key], device=device, requires_grad=True) for key in ("W", "b"))
    dyt = torch.tensor(dy, device=device)

    def step():
        y = torch.nn.functional.conv2d(xt, wt, bt, stride=s, padding=p)
        y.backward(dyt)
        out = (y.detach(), xt.grad, wt.grad)
        xt.grad = wt.grad = bt.grad = None
        return out
    return step


def geomean(values):
    return math.exp(sum(map(math.log, values)) / len(values)) if values else float("nan")


def conv_table(cp, torch, device, n, layers, repeats):
    from reference.backend import to_numpy
    from reference.conv import Conv2d
    sides = [("reference", cupy_timer(cp), lambda *a: layer_step(Conv2d, cp, *a)),
             ("answer key", cupy_timer(cp), lambda *a: layer_step(answer_key_conv(), cp, *a))]
    if torch is not None:
        sides.append((f"torch {device}", torch_timer(torch, device),
                      lambda params, x, dy, k, s, p: torch_step(torch, device, params, x, dy, s, p)))
    names = [name for name, _, _ in sides]
    print(f"\n| layer (N={n}, float32) | " + " | ".join(f"{m} ms" for m in names) +
          "".join(f" | {m} / torch" for m in names[:2] if torch is not None) + " |")
    print("|---" * (1 + len(names) + (2 if torch is not None else 0)) + "|")
    ratios = {m: [] for m in names[:2]}
    for c, f, h, w, k, s, p in layers:
        params, x, dy = make(n, c, f, h, w, k, s, p)
        steps = [(timer, build(params, x, dy, k, s, p)) for _, timer, build in sides]
        outs = [step() for _, step in steps]  # warm-up (kernel compilation, cuDNN's search) and a check
        y0 = to_numpy(outs[0][0])
        for name, out in zip(names[1:], outs[1:]):
            got = out[0].cpu().numpy() if hasattr(out[0], "cpu") else to_numpy(out[0])
            np.testing.assert_allclose(got, y0, rtol=1e-3, atol=1e-3, err_msg=f"{name} y")
        times = [[] for _ in steps]
        for _ in range(repeats):
            for t, (timer, step) in zip(times, steps):
                t.append(timer(step))
        med = [statistics.median(t) for t in times]
        row = f"| {c}->{f} {h}x{w} k{k} s{s} p{p} | " + " | ".join(f"{m * 1e3:.2f}" for m in med)
        if torch is not None:
            for name, m in zip(names[:2], med[:2]):
                ratios[name].append(m / med[-1])
            row += "".join(f" | {ratios[name][-1]:.2f}x" for name in names[:2])
        print(row + " |")
    if torch is not None:
        print("| geometric mean |" + " |" * len(names) +
              "".join(f" {geomean(ratios[name]):.2f}x |" for name in names[:2]))
    return {name: geomean(v) for name, v in ratios.items()}


def cnn_target():
    from grader import engine
    item = next(i for i in engine.items("cnn") if i.id == "cnn.train.accuracy")
    return item.floor, item.target


EPOCH = re.compile(r"epoch\s+(\d+)\s.*val_acc ([\d.]+).*?\s([\d.]+)s \(cpu")


def train_cnn(extra, env):
    """Run the answer key's train.py on the GPU; returns (per-epoch (epoch, val_acc, seconds),
    test accuracy, total seconds) parsed from its log, which is echoed. The weights go to a
    temporary folder: the committed answer-key weights are left alone."""
    out = tempfile.mkdtemp(prefix="dlgrade-gpu-bench-")
    cmd = [sys.executable, "train.py", "--device", "cuda", *extra, "--out", os.path.join(out, "cnn_weights.npz")]
    print("\n$ (cd solutions/cnn &&", " ".join(cmd[1:]) + ")", flush=True)
    start = time.time()
    proc = subprocess.Popen(cmd, cwd=ROOT / "solutions" / "cnn", env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    epochs, test_acc = [], None
    for line in proc.stdout:
        print("  " + line.rstrip(), flush=True)
        m = EPOCH.search(line)
        if m:
            epochs.append((int(m.group(1)), float(m.group(2)), float(m.group(3))))
        m = re.search(r"saved model: val_acc [\d.]+\s+test_acc ([\d.]+)", line)
        if m:
            test_acc = float(m.group(1))
    if proc.wait() != 0:
        sys.exit(f"gpu.py: error: train.py exited with {proc.returncode}")
    return epochs, test_acc, time.time() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--epochs", type=int, help="train.py --epochs (default: its own)")
    parser.add_argument("--skip-train", action="store_true", help="only the conv table")
    parser.add_argument("--dry-run", action="store_true",
                        help="tiny sizes; on the CPU stand-in for CuPy when there is no GPU")
    args = parser.parse_args()
    cp, torch, device, what = devices(args.dry_run)
    import datetime
    print(f"{what}; torch {torch.__version__ if torch else 'not importable'} on {device}; "
          f"numpy {np.__version__}; {datetime.datetime.now():%Y-%m-%d %H:%M}"
          + ("; DRY RUN" if args.dry_run else ""))
    n, layers, repeats = (4, LAYERS[:2], 1) if args.dry_run else (N, LAYERS, args.repeats)
    print(f"median of {repeats} interleaved forward+backward runs per layer, CUDA events")
    conv_table(cp, torch, device, n, layers, repeats)
    if args.skip_train:
        return
    floor, target = cnn_target()
    env = dict(os.environ)
    if args.dry_run and "tests/fakecupy" in " ".join(map(str, sys.path)):
        env["PYTHONPATH"] = os.pathsep.join([str(FAKE)] + [q for q in env.get("PYTHONPATH", "").split(os.pathsep) if q])
    extra = (["--arch", "c4,p", "--epochs", "1", "--train-subset", "256", "--eval-sample", "64"] if args.dry_run
             else (["--epochs", str(args.epochs)] if args.epochs else []))
    epochs, test_acc, total = train_cnn(extra, env)
    dry_run = args.dry_run
    reached = next(((e, t) for e, acc, t in epochs if acc >= target), None)
    print(f"\nCNN on the GPU{' (dry run)' if dry_run else ''}: {len(epochs)} epochs, {epochs[-1][2] / len(epochs):.1f} s per epoch; "
          + (f"val_acc reached the target {target:.2f} after epoch {reached[0]}, {reached[1]:.0f} s into training; "
             if reached else f"val_acc never reached the target {target:.2f}; ")
          + f"saved model's test accuracy {test_acc:.4f} (floor {floor:.2f}, target {target:.2f}); "
            f"{total:.0f} s in all, data loading and evaluation included")


if __name__ == "__main__":
    main()
