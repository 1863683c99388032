"""Train the MLP on CIFAR-10 and write `mlp_weights.npz` (and `mlp_curve.json`) next to this file.

Usage, in this folder (with the dataset in dlgrade's cache, from `dlgrade data fetch cifar10`,
or DLGRADE_DATA pointing at a folder holding cifar-10-python.tar.gz):

    python train.py [--epochs 30] [--hidden 512 256] [--seed 0] [--device cuda] ...

Model: Flatten, then per hidden size Linear -> BatchNorm1d -> ReLU -> Dropout, then Linear to
10 classes; softmax cross-entropy, Adam with L2 weight decay and a cosine learning-rate
schedule, random horizontal flips. Only this folder's layers, losses and optimizers are used.
The weight matrices are stored as float16 (the grader evaluates in float32) unless
--no-half; the test accuracy printed at the end is that of the saved file, reloaded.
With --device cuda the model, its gradients and the optimizer state live on the GPU (CuPy);
the data and the random numbers stay on the host, one batch copied over per step.
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
sys.path.insert(0, HERE)                        # this folder's layers, losses, optim, model
sys.path.insert(1, os.path.dirname(os.path.dirname(HERE)))  # the repository root, for grader

from grader import curves, training  # noqa: E402
from grader.data import cifar10_preprocess, load_cifar10  # noqa: E402

import layers  # noqa: E402
from losses import CrossEntropyLoss  # noqa: E402
from model import build_model, load_model, save_model  # noqa: E402
from optim import Adam  # noqa: E402

NUM_CLASSES = 10


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--lr", type=float, default=1e-3, help="peak Adam learning rate")
    p.add_argument("--min-lr", type=float, default=1e-5, help="learning rate at the last step")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--hidden", type=int, nargs="+", default=[512, 256], help="hidden sizes")
    p.add_argument("--dropout", type=float, default=0.3)
    p.add_argument("--weight-decay", type=float, default=5e-4, help="L2 on Linear weights")
    p.add_argument("--no-flip", dest="flip", action="store_false",
                   help="no random horizontal flips")
    p.add_argument("--eval-sample", type=int, default=5000,
                   help="training images used for the per-epoch train accuracy")
    p.add_argument("--no-half", dest="half", action="store_false",
                   help="store the weight matrices as float32 instead of float16")
    p.add_argument("--train-subset", type=int, default=0,
                   help="train on only this many images (0: all; for quick experiments)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="cuda: train on the GPU with CuPy")
    p.add_argument("--out", default=os.path.join(HERE, "mlp_weights.npz"))
    return p.parse_args(argv)


def make_arch(hidden, dropout):
    """Flatten, [Linear, BatchNorm1d, ReLU, Dropout] per hidden size, Linear to the classes."""
    arch = [{"type": "Flatten"}]
    fan_in = 3 * 32 * 32
    for width in hidden:
        arch += [{"type": "Linear", "in_features": fan_in, "out_features": width},
                 {"type": "BatchNorm1d", "num_features": width},
                 {"type": "ReLU"}]
        if dropout > 0:
            arch.append({"type": "Dropout", "p": dropout})
        fan_in = width
    arch.append({"type": "Linear", "in_features": fan_in, "out_features": NUM_CLASSES})
    return arch


def accuracy(model, params, state, x, y, batch_size=1000, xp=np):
    """Fraction of correct argmax predictions, evaluation mode; host data, batches sent to `xp`."""
    correct = 0
    for i in range(0, len(x), batch_size):
        scores, _ = model.forward(xp.asarray(x[i:i + batch_size]), params, train=False, state=state)
        correct += int((scores.argmax(axis=1) == xp.asarray(y[i:i + batch_size])).sum())
    return correct / len(x)


def random_flip(x, rng):
    """Mirror a random half of the images (N, C, H, W) left-right; returns a new array."""
    flip = rng.random(len(x)) < 0.5
    x = x.copy()
    x[flip] = x[flip, :, :, ::-1]
    return x


def main(argv=None):
    args = parse_args(argv)
    xp = training.start(args, layers.device_module)
    start = time.time()
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

    arch = make_arch(args.hidden, args.dropout)
    model = build_model(arch)
    params = layers.to_device(xp, [{k: v.astype(np.float32) for k, v in p.items()} for p in model.init_params(rng)])
    state = layers.to_device(xp, [{k: v.astype(np.float32) for k, v in s.items()} for s in model.init_state()])
    print("model:", " -> ".join(str(layer) for layer in model.layers), flush=True)
    print(f"parameters: {sum(v.size for p in params for v in p.values()):,}", flush=True)

    loss_fn = CrossEntropyLoss()
    # Weight decay on the weight matrices only (not on biases or BatchNorm's gamma/beta).
    decay = [args.weight_decay if "W" in p else 0.0 for p in params]
    opt_state = [Adam(lr=args.lr).init_state(p) for p in params]
    steps_per_epoch = math.ceil(len(x_train) / args.batch_size)
    total_steps = args.epochs * steps_per_epoch
    step = 0

    curve = []                                    # one row per epoch, for curves.write
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(x_train))
        loss_sum, seen = 0.0, 0
        for i in range(0, len(order), args.batch_size):
            idx = order[i:i + args.batch_size]
            xb = x_train[idx]
            if args.flip:
                xb = random_flip(xb, rng)
            xb, yb = xp.asarray(xb), xp.asarray(y_train[idx])
            scores, cache = model.forward(xb, params, train=True, rng=rng, state=state)
            loss, loss_cache = loss_fn.forward(scores, yb)
            _, grads = model.backward(loss_fn.backward(loss_cache), cache)
            # Cosine schedule from lr to min_lr; the optimizer is pure, so a new one per step
            # with the current learning rate shares the same state.
            lr = args.min_lr + 0.5 * (args.lr - args.min_lr) * (1 + math.cos(math.pi * step / total_steps))
            for j, g in enumerate(grads):
                if g:
                    opt = Adam(lr=lr, weight_decay=decay[j])
                    params[j], opt_state[j] = opt.step(params[j], g, opt_state[j])
            step += 1
            loss_sum += float(loss) * len(idx)
            seen += len(idx)
        train_acc = accuracy(model, params, state, x_train[sample], y_train[sample], xp=xp)
        val_acc = accuracy(model, params, state, x_val, y_val, xp=xp)
        print(f"epoch {epoch:3d}  loss {loss_sum / seen:.4f}  train_acc {train_acc:.4f}  "
              f"val_acc {val_acc:.4f}  lr {lr:.2e}  {time.time() - start:7.1f}s", flush=True)
        curve.append({"epoch": epoch, "loss": loss_sum / seen, "train_acc": train_acc, "val_acc": val_acc})
        curves.write(args.out, curve)

    store = [{k: (v.astype(np.float16) if args.half and v.ndim == 2 else v) for k, v in p.items()}
             for p in params]
    save_model(args.out, arch, store, state)
    print(f"saved {args.out} ({os.path.getsize(args.out) / 1e6:.2f} MB)", flush=True)

    # Evaluate what was saved, as the grader will: reload, float32, evaluation mode.
    del x_train
    arch2, params2, state2 = load_model(args.out)
    params2, state2 = layers.to_device(xp, params2), layers.to_device(xp, state2)
    x_test_u8, y_test = load_cifar10("test")
    x_test = cifar10_preprocess(x_test_u8)
    model2 = build_model(arch2)
    val_acc = accuracy(model2, params2, state2, x_val, y_val, xp=xp)
    test_acc = accuracy(model2, params2, state2, x_test, y_test, xp=xp)
    print(f"saved model: val_acc {val_acc:.4f}  test_acc {test_acc:.4f}", flush=True)
    print(f"total time {time.time() - start:.1f}s", flush=True)


if __name__ == "__main__":
    try:
        main()
    except NotImplementedError:
        sys.exit("train.py: a layer, loss or optimizer it needs is not implemented yet "
                 "(run `dlgrade check mlp .` to see which)")
