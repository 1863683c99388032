"""Train the CNN on CIFAR-10 and write `cnn_weights.npz` (and `cnn_curve.json`) next to this file.

Usage, in this folder (with the dataset in dlgrade's cache, from `dlgrade data fetch cifar10`,
or DLGRADE_DATA pointing at a folder holding cifar-10-python.tar.gz):

    python train.py [--epochs 4] [--arch c32,p,c64,c64,p,c128,c128,p] [--seed 0] [--device cuda] ...

Model (--arch, comma-separated): `cW` is Conv2d 3x3 (padding 1, W filters) -> BatchNorm2d -> ReLU,
`p` is MaxPool2d 2x2; then Flatten and Linear to 10 classes. Softmax cross-entropy, SGD with
Nesterov momentum and L2 weight decay on the conv and linear weights, a one-cycle learning rate
(linear warm-up, then linear decay to 0), random horizontal flips and random translations
(random crops of the zero-padded image). Only this folder's layers, losses and optimizers are
used, in float32. The test accuracy printed at the end is that of the saved file, reloaded.
With --device cuda the model, its gradients and the optimizer state live on the GPU (CuPy);
the data, its augmentation and the random numbers stay on the host, one batch copied over per
step, so a seed draws the same batches, crops and flips on both devices.
"""
import argparse
import math
import os
import sys
import time

# One BLAS thread unless the environment says otherwise: on a busy 2-core machine OpenBLAS's
# thread pool spins while waiting and runs several times slower than a single thread.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)                        # this folder's conv, layers, losses, optim, model
sys.path.insert(1, os.path.dirname(os.path.dirname(HERE)))  # the repository root, for grader

from grader import curves, training  # noqa: E402
from grader.data import cifar10_preprocess, load_cifar10  # noqa: E402

from layers import device_module, to_device  # noqa: E402
from losses import CrossEntropyLoss  # noqa: E402
from model import build_model, load_model, save_model  # noqa: E402
from optim import Nesterov  # noqa: E402

NUM_CLASSES = 10
DEFAULT_ARCH = "c32,p,c64,c64,p,c128,c128,p"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--arch", default=DEFAULT_ARCH,
                   help="comma-separated: cW = conv 3x3 with W filters + BN + ReLU, p = max-pool 2x2")
    p.add_argument("--lr", type=float, default=0.05, help="peak learning rate")
    p.add_argument("--warmup", type=float, default=0.2,
                   help="fraction of the steps spent warming the learning rate up from 0")
    p.add_argument("--momentum", type=float, default=0.9, help="Nesterov momentum")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--weight-decay", type=float, default=5e-4, help="L2 on conv/linear weights")
    p.add_argument("--translate", type=int, default=2,
                   help="random translations up to this many pixels (0: none)")
    p.add_argument("--no-flip", dest="flip", action="store_false",
                   help="no random horizontal flips")
    p.add_argument("--train-subset", type=int, default=0,
                   help="train on only this many images (0: all; for quick experiments)")
    p.add_argument("--eval-sample", type=int, default=2000,
                   help="training images used for the per-epoch train accuracy")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="cuda: train on the GPU with CuPy")
    p.add_argument("--out", default=os.path.join(HERE, "cnn_weights.npz"))
    return p.parse_args(argv)


def make_arch(spec):
    """The layer list for an --arch string: cW -> Conv2d 3x3 + BatchNorm2d + ReLU, p -> MaxPool2d."""
    arch, channels, size = [], 3, 32
    for token in spec.split(","):
        if token == "p":
            arch.append({"type": "MaxPool2d", "kernel_size": 2})
            size //= 2
        elif token.startswith("c"):
            width = int(token[1:])
            arch += [{"type": "Conv2d", "in_channels": channels, "out_channels": width,
                      "kernel_size": 3, "stride": 1, "padding": 1},
                     {"type": "BatchNorm2d", "num_features": width},
                     {"type": "ReLU"}]
            channels = width
        else:
            raise ValueError(f"bad --arch token {token!r} (use cW or p)")
    arch += [{"type": "Flatten"},
             {"type": "Linear", "in_features": channels * size * size, "out_features": NUM_CLASSES}]
    return arch


def accuracy(model, params, state, x, y, batch_size=500, xp=np):
    """Fraction of correct argmax predictions, evaluation mode; host data, batches sent to `xp`."""
    correct = 0
    for i in range(0, len(x), batch_size):
        scores, _ = model.forward(xp.asarray(x[i:i + batch_size]), params, train=False, state=state)
        correct += int((scores.argmax(axis=1) == xp.asarray(y[i:i + batch_size])).sum())
    return correct / len(x)


def augment(x, rng, *, flip, translate):
    """Random left-right flips and random translations (crops of the zero-padded images).

    Shapes: x (N, C, H, W) -> (N, C, H, W), a new array. Zero is the mean pixel after
    `cifar10_preprocess`.
    """
    n, c, h, w = x.shape
    if translate:
        t = translate
        padded = np.zeros((n, c, h + 2 * t, w + 2 * t), dtype=x.dtype)
        padded[:, :, t:t + h, t:t + w] = x
        windows = np.lib.stride_tricks.sliding_window_view(padded, (h, w), axis=(2, 3))
        dy, dx = rng.integers(0, 2 * t + 1, size=(2, n))
        x = windows[np.arange(n), :, dy, dx]           # (N, C, H, W)
    else:
        x = x.copy()
    if flip:
        mirror = rng.random(n) < 0.5
        x[mirror] = x[mirror, :, :, ::-1]
    return x


def lr_at(step, total, peak, warmup):
    """One cycle: linear from 0 to `peak` over the first `warmup` fraction, then linear to 0."""
    w = max(1, int(warmup * total))
    if step < w:
        return peak * (step + 1) / w
    return peak * max(0.0, (total - step) / (total - w))


def main(argv=None):
    args = parse_args(argv)
    xp = training.start(args, device_module)
    print("malloc keeps freed memory:", training.keep_freed_memory(), flush=True)
    start, cpu_start = time.time(), time.process_time()
    rng = np.random.default_rng(args.seed)

    x_train_u8, y_train = load_cifar10("train")
    x_val_u8, y_val = load_cifar10("val")
    if args.train_subset:
        x_train_u8, y_train = x_train_u8[:args.train_subset], y_train[:args.train_subset]
    x_train = cifar10_preprocess(x_train_u8)
    x_val = cifar10_preprocess(x_val_u8)
    del x_train_u8, x_val_u8
    sample = rng.choice(len(x_train), size=min(args.eval_sample, len(x_train)), replace=False)
    print(f"data: train {x_train.shape}, val {x_val.shape} "
          f"({time.time() - start:.1f}s)", flush=True)

    arch = make_arch(args.arch)
    model = build_model(arch)
    params = to_device(xp, [{k: v.astype(np.float32) for k, v in p.items()} for p in model.init_params(rng)])
    state = to_device(xp, [{k: v.astype(np.float32) for k, v in s.items()} for s in model.init_state()])
    print("model:", " -> ".join(str(layer) for layer in model.layers), flush=True)
    print(f"parameters: {sum(v.size for p in params for v in p.values()):,}", flush=True)

    loss_fn = CrossEntropyLoss()
    # Weight decay on the conv and linear layers only (not on BatchNorm's gamma and beta).
    decay = [args.weight_decay if "W" in p else 0.0 for p in params]
    opt_state = [Nesterov(lr=args.lr).init_state(p) for p in params]
    steps_per_epoch = math.ceil(len(x_train) / args.batch_size)
    total_steps = args.epochs * steps_per_epoch
    step = 0

    curve = []                                    # one row per epoch, for curves.write
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(x_train))
        loss_sum, seen = 0.0, 0
        for i in range(0, len(order), args.batch_size):
            idx = order[i:i + args.batch_size]
            xb = xp.asarray(augment(x_train[idx], rng, flip=args.flip, translate=args.translate))
            yb = xp.asarray(y_train[idx])
            scores, cache = model.forward(xb, params, train=True, rng=rng, state=state)
            loss, loss_cache = loss_fn.forward(scores, yb)
            _, grads = model.backward(loss_fn.backward(loss_cache), cache)
            del cache
            # The optimizer is pure, so a new one per step with the current learning rate
            # shares the same state.
            lr = lr_at(step, total_steps, args.lr, args.warmup)
            for j, g in enumerate(grads):
                if g:
                    opt = Nesterov(lr=lr, momentum=args.momentum, weight_decay=decay[j])
                    params[j], opt_state[j] = opt.step(params[j], g, opt_state[j])
            step += 1
            loss_sum += float(loss) * len(idx)
            seen += len(idx)
        train_acc = accuracy(model, params, state, x_train[sample], y_train[sample], xp=xp)
        val_acc = accuracy(model, params, state, x_val, y_val, xp=xp)
        print(f"epoch {epoch:3d}  loss {loss_sum / seen:.4f}  train_acc {train_acc:.4f}  "
              f"val_acc {val_acc:.4f}  lr {lr:.2e}  {time.time() - start:7.1f}s "
              f"(cpu {time.process_time() - cpu_start:.1f}s)", flush=True)
        curve.append({"epoch": epoch, "loss": loss_sum / seen, "train_acc": train_acc, "val_acc": val_acc})
        curves.write(args.out, curve)

    save_model(args.out, arch, params, state)
    print(f"saved {args.out} ({os.path.getsize(args.out) / 1e6:.2f} MB)", flush=True)

    # Evaluate what was saved, as the grader will: reload, float32, evaluation mode.
    del x_train
    arch2, params2, state2 = load_model(args.out)
    params2, state2 = to_device(xp, params2), to_device(xp, state2)
    x_test_u8, y_test = load_cifar10("test")
    x_test = cifar10_preprocess(x_test_u8)
    model2 = build_model(arch2)
    val_acc = accuracy(model2, params2, state2, x_val, y_val, xp=xp)
    test_acc = accuracy(model2, params2, state2, x_test, y_test, xp=xp)
    print(f"saved model: val_acc {val_acc:.4f}  test_acc {test_acc:.4f}", flush=True)
    print(f"total time {time.time() - start:.1f}s (cpu {time.process_time() - cpu_start:.1f}s: "
          f"less than the total when other processes share the cores)", flush=True)


if __name__ == "__main__":
    try:
        main()
    except NotImplementedError:
        sys.exit("train.py: a layer, loss or optimizer it needs is not implemented yet "
                 "(run `dlgrade check cnn .` to see which)")
