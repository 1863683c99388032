"""Train linear classifiers on CIFAR-10 raw pixels and write their weights next to this file.

Usage, in this folder (with the dataset in dlgrade's cache, from `dlgrade data fetch cifar10`,
or DLGRADE_DATA pointing at a folder holding cifar-10-python.tar.gz):

    python train.py                    # both: softmax_weights.npz and svm_weights.npz
    python train.py --loss softmax [--epochs 15] [--lr 5e-3] [--reg 1e-2] [--seed 0] [--device cuda]

Each classifier is W (3073, 10) on the 3072 pixels of `grader.data.cifar10_preprocess`
(per-channel standardised) plus a column of ones (the bias trick), trained from small random
weights by this folder's `train_sgd`, one call per epoch with the learning rate multiplied by
--decay after each. Writes `<loss>_weights.npz` (the grader's format: Flatten, then Linear
3072 -> 10 with W = W[:-1] and b = W[-1]), `<loss>_curve.json` and, when matplotlib is
installed, `<loss>_templates.png`: the ten columns of W as 32x32 colour images. (Given code.)
With --device cuda, W and the prepared images live on the GPU (CuPy) and `train_sgd` runs there;
the random numbers stay on the host (a NumPy Generator: the same batches on both devices), and
the weights are copied back to the host to be saved, evaluated and drawn.
"""
import argparse
import json
import os
import sys
import time

# One BLAS thread unless the environment says otherwise: on a busy 2-core machine OpenBLAS's
# thread pool spins while waiting and runs several times slower than a single thread.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)                        # this folder's linear.py
sys.path.insert(1, os.path.dirname(os.path.dirname(HERE)))  # the repository root, for grader

from grader import curves, training  # noqa: E402
from grader.data import CIFAR10_CLASSES, cifar10_preprocess, load_cifar10  # noqa: E402

from backend import device_module, to_numpy  # noqa: E402  (given: the CPU/GPU helpers)
from linear import append_bias, predict, train_sgd  # noqa: E402

DEFAULTS = {"softmax": {"lr": 5e-3, "reg": 1e-2}, "svm": {"lr": 1e-3, "reg": 1e-2}}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--loss", choices=["softmax", "svm", "both"], default="both")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--lr", type=float, default=None, help="first epoch's learning rate (default: per loss)")
    p.add_argument("--reg", type=float, default=None, help="L2 strength: reg * sum(W * W) (default: per loss)")
    p.add_argument("--decay", type=float, default=0.9, help="learning-rate factor after each epoch")
    p.add_argument("--batch-size", type=int, default=200)
    p.add_argument("--train-subset", type=int, default=0,
                   help="train on only this many images (0: all 49,000; for quick experiments)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="cuda: train on the GPU with CuPy")
    p.add_argument("--out-dir", default=HERE)
    return p.parse_args(argv)


def prepare(x_u8):
    """uint8 images (N, 3, 32, 32) -> float32 (N, 3073): standardised pixels and a 1."""
    return append_bias(cifar10_preprocess(x_u8).reshape(len(x_u8), -1))


def save_weights(path, W):
    """The grader's format: Flatten, then Linear 3072 -> 10 holding W[:-1] and the bias row W[-1]."""
    arch = [{"type": "Flatten"}, {"type": "Linear", "in_features": W.shape[0] - 1, "out_features": W.shape[1]}]
    np.savez(path, arch=np.array(json.dumps(arch)), **{"1.W": W[:-1].astype(np.float32),
                                                      "1.b": W[-1].astype(np.float32)})


def load_weights(path):
    """W (3073, 10) float32 back from a file written by `save_weights`."""
    with np.load(path, allow_pickle=False) as data:
        return np.concatenate([data["1.W"], data["1.b"][None]]).astype(np.float32)


def save_templates(path, W, title):
    """The ten class templates W[:-1, c] as 32x32 colour images (each scaled to [0, 1])."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no template figure", flush=True)
        return
    t = W[:-1].reshape(3, 32, 32, -1).transpose(3, 1, 2, 0).astype(np.float64)
    lo, hi = t.min(axis=(1, 2, 3), keepdims=True), t.max(axis=(1, 2, 3), keepdims=True)
    t = (t - lo) / np.maximum(hi - lo, 1e-12)
    fig, axes = plt.subplots(2, 5, figsize=(10, 4.6))
    for k, ax in enumerate(axes.flat):
        ax.imshow(t[k], interpolation="nearest")
        ax.set_title(CIFAR10_CLASSES[k])
        ax.axis("off")
    fig.suptitle(title)
    fig.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(fig)
    print(f"saved {path}", flush=True)


def train_one(loss, args, data, xp=np):
    """Train one classifier on `data` (arrays of the module `xp`; `sample` on the host) and save it."""
    (X, y), (Xv, yv), sample = data
    lr = DEFAULTS[loss]["lr"] if args.lr is None else args.lr
    reg = DEFAULTS[loss]["reg"] if args.reg is None else args.reg
    print(f"{loss}: lr {lr:g}, reg {reg:g}, {args.epochs} epochs of batch {args.batch_size}", flush=True)
    rng = np.random.default_rng(args.seed)
    W = xp.asarray((1e-3 * rng.standard_normal((X.shape[1], 10))).astype(np.float32))
    out = os.path.join(args.out_dir, f"{loss}_weights.npz")
    steps = len(X) // args.batch_size
    start, curve = time.time(), []
    for epoch in range(1, args.epochs + 1):
        W, history = train_sgd(W, X, y, loss=loss, reg=reg, lr=lr, batch_size=args.batch_size, steps=steps, rng=rng)
        train_acc = float((predict(W, X[sample]) == y[sample]).mean())
        val_acc = float((predict(W, Xv) == yv).mean())
        print(f"epoch {epoch:3d}  loss {float(history.mean()):.4f}  train_acc {train_acc:.4f}  "
              f"val_acc {val_acc:.4f}  lr {lr:.2e}  {time.time() - start:6.1f}s", flush=True)
        curve.append({"epoch": epoch, "loss": float(history.mean()), "train_acc": train_acc, "val_acc": val_acc})
        curves.write(out, curve)
        lr *= args.decay
    save_weights(out, to_numpy(W))
    print(f"saved {out} ({os.path.getsize(out) / 1e3:.0f} kB) after {time.time() - start:.1f}s of training", flush=True)
    return out


def main(argv=None):
    args = parse_args(argv)
    xp = training.start(args, device_module)
    start = time.time()
    x, y = load_cifar10("train")
    xv, yv = load_cifar10("val")
    if args.train_subset:
        x, y = x[:args.train_subset], y[:args.train_subset]
    X, Xv = prepare(x), prepare(xv)
    sample = np.random.default_rng(args.seed).choice(len(X), size=min(5000, len(X)), replace=False)
    print(f"data: train {X.shape}, val {Xv.shape} ({time.time() - start:.1f}s)", flush=True)
    # On the GPU: the prepared images and labels copied over once (on the CPU these are the same arrays).
    data = ((xp.asarray(X), xp.asarray(y)), (xp.asarray(Xv), xp.asarray(yv)), sample)
    saved = [train_one(loss, args, data, xp=xp)
             for loss in (["softmax", "svm"] if args.loss == "both" else [args.loss])]

    # Evaluate what was saved, as the grader will: reload, float32, test set, on the host.
    del X, data
    xt, yt = load_cifar10("test")
    Xt = prepare(xt)
    for path in saved:
        W = load_weights(path)
        name = os.path.basename(path).split("_")[0]
        test_acc = float((predict(W, Xt) == yt).mean())
        print(f"saved model {os.path.basename(path)}: val_acc {float((predict(W, Xv) == yv).mean()):.4f}  "
              f"test_acc {test_acc:.4f}", flush=True)
        save_templates(os.path.join(args.out_dir, f"{name}_templates.png"), W,
                       f"{name} classifier: learned templates (test accuracy {test_acc:.1%})")
    print(f"total time {time.time() - start:.1f}s (CPU {time.process_time():.1f}s)", flush=True)


if __name__ == "__main__":
    try:
        main()
    except NotImplementedError:
        sys.exit("train.py: a function it needs is not implemented yet (run `dlgrade check linear .` to see which)")
