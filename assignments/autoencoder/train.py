"""Train two auto-encoders on CIFAR-10 and write their weights (and curves) next to this file.

Usage, in this folder (with the dataset in dlgrade's cache, from `dlgrade data fetch cifar10`,
or DLGRADE_DATA pointing at a folder holding cifar-10-python.tar.gz):

    python train.py [--model both|fc|conv] [--epochs-fc 20] [--epochs-conv 8] [--seed 0] [--device cuda] ...

No labels are used: each model learns to reproduce its input through a code of at most 256
numbers per image (the image has 3072). Pixels are scaled to [0, 1] (x / 255, nothing else)
and are both the input and the target; the output layer is a Sigmoid and the loss is
`MSELoss` (per image the sum of squared errors over its 3072 values, averaged over the batch;
the figures printed below divide it by 3072: the mean squared error per pixel value).

- `fc_ae_weights.npz`, the fully connected auto-encoder: Flatten, Linear 3072 -> 256 (the code),
  Linear 256 -> 3072, Sigmoid. The encoder is linear (with a squared error, a linear encoder
  and decoder learn the span of the top 256 principal components; here a ReLU between them
  did worse in short runs); the Sigmoid makes the decoder nonlinear. Its weight matrices are
  stored as float16 (the grader evaluates in float32).
- `conv_ae_weights.npz`, the convolutional one: Conv2d 3 -> 32 (4x4, stride 2) and 32 -> 64
  (4x4, stride 2), each with a ReLU, then Conv2d 64 -> 4 (3x3) gives the code, 4 x 8 x 8;
  the decoder mirrors it: Conv2d 4 -> 64 (3x3), ReLU, Upsample2d x2, Conv2d 64 -> 32 (3x3),
  ReLU, ConvTranspose2d 32 -> 3 (4x4, stride 2, padding 1), Sigmoid.

Adam with a one-cycle learning rate (linear warm-up, then linear decay to 0) and random
horizontal flips; the last layer's initial weights are scaled by 0.1, so that the Sigmoid
does not start saturated (with He initialisation the FC model barely learns). Only this folder's layers, losses and optimizers are used, in float32. The
figures printed at the end are those of the saved files, reloaded: the reconstruction error on
the first 1,000 CIFAR-10 test images (what the grader measures) and, for comparison, that of
predicting the mean training image for every image. `reconstructions.png` (with matplotlib)
shows 8 test images above their reconstructions by each model.
With --device cuda the models, their gradients and the optimizer state live on the GPU (CuPy);
the data, the flips and the random numbers stay on the host, one batch copied over per step;
the weights are saved, and the errors and the figure computed, from host copies.
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
sys.path.insert(0, HERE)                        # this folder's layers, conv, autoencoder, model
sys.path.insert(1, os.path.dirname(os.path.dirname(HERE)))  # the repository root, for grader

from grader import curves, training  # noqa: E402
from grader.data import load_cifar10  # noqa: E402

from layers import device_module, to_device, to_numpy  # noqa: E402
from losses import MSELoss  # noqa: E402
from model import build_model, code_size, load_model, save_model  # noqa: E402
from optim import Adam  # noqa: E402

PIXELS = 3 * 32 * 32
TEST_IMAGES = 1000          # the grader's reconstruction items use the first 1,000 test images
SHOWN = 8                   # test images in reconstructions.png

FC_ARCH = [{"type": "Flatten"},
           {"type": "Linear", "in_features": PIXELS, "out_features": 256},   # the code: 256 numbers
           {"type": "Linear", "in_features": 256, "out_features": PIXELS},
           {"type": "Sigmoid"}]


def conv(c, f, k, s=1, p=0):
    return {"type": "Conv2d", "in_channels": c, "out_channels": f, "kernel_size": k, "stride": s, "padding": p}


CONV_ARCH = [conv(3, 32, 4, 2, 1), {"type": "ReLU"},
             conv(32, 64, 4, 2, 1), {"type": "ReLU"},
             conv(64, 4, 3, 1, 1),                                  # the code: 4 x 8 x 8 = 256
             conv(4, 64, 3, 1, 1), {"type": "ReLU"},
             {"type": "Upsample2d", "scale_factor": 2},
             conv(64, 32, 3, 1, 1), {"type": "ReLU"},
             {"type": "ConvTranspose2d", "in_channels": 32, "out_channels": 3, "kernel_size": 4,
              "stride": 2, "padding": 1},
             {"type": "Sigmoid"}]
MODELS = {"fc": ("fc_ae_weights.npz", FC_ARCH), "conv": ("conv_ae_weights.npz", CONV_ARCH)}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=("both", "fc", "conv"), default="both")
    p.add_argument("--epochs-fc", type=int, default=20)
    p.add_argument("--epochs-conv", type=int, default=8)
    p.add_argument("--lr-fc", type=float, default=1e-3, help="peak learning rate of the FC model")
    p.add_argument("--lr-conv", type=float, default=3e-3, help="peak learning rate of the conv model")
    p.add_argument("--warmup", type=float, default=0.05,
                   help="fraction of the steps spent warming the learning rate up from 0")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--no-flip", dest="flip", action="store_false", help="no random horizontal flips")
    p.add_argument("--train-subset", type=int, default=0,
                   help="train on only this many images (0: all 49,000; for quick experiments)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="cuda: train on the GPU with CuPy")
    p.add_argument("--out-dir", default=HERE)
    p.add_argument("--no-figure", dest="figure", action="store_false", help="do not write reconstructions.png")
    return p.parse_args(argv)


def images(split):
    """CIFAR-10 images of `split` as float32 (N, 3, 32, 32) in [0, 1]."""
    x, _ = load_cifar10(split)
    return x.astype(np.float32) * np.float32(1 / 255)


def reconstruct(model, params, state, x, batch_size=500, xp=np):
    """The model's outputs for host images `x`, as host images: batches sent to `xp` and back."""
    out = [to_numpy(model.forward(xp.asarray(x[i:i + batch_size]), params, train=False, state=state)[0])
           .reshape(-1, *x.shape[1:]) for i in range(0, len(x), batch_size)]
    return np.concatenate(out)


def pixel_mse(model, params, state, x, xp=np):
    """Mean squared error per pixel value: what the grader reports (and MSELoss / 3072)."""
    d = reconstruct(model, params, state, x, xp=xp).astype(np.float64) - x
    return float((d * d).mean())


def lr_at(step, total, peak, warmup):
    """One cycle: linear from 0 to `peak` over the first `warmup` fraction, then linear to 0."""
    w = max(1, int(warmup * total))
    if step < w:
        return peak * (step + 1) / w
    return peak * max(0.0, (total - step) / (total - w))


def train(name, arch, epochs, lr_peak, args, x_train, x_val, rng, start, xp=np):
    """Train one model on the host images `x_train` (host `rng`; model on `xp`) and save it."""
    out = os.path.join(args.out_dir, MODELS[name][0])
    model = build_model(arch)
    params = [{k: v.astype(np.float32) for k, v in p.items()} for p in model.init_params(rng)]
    state = [{k: v.astype(np.float32) for k, v in s.items()} for s in model.init_state()]
    last = max(i for i, p in enumerate(params) if "W" in p)
    params[last]["W"] *= np.float32(0.1)          # the Sigmoid after it starts unsaturated
    print(f"[{name}] model:", " -> ".join(str(layer) for layer in model.layers), flush=True)
    print(f"[{name}] parameters: {sum(v.size for p in params for v in p.values()):,}; code: "
          f"{code_size(model, params, state)} numbers per image", flush=True)
    params, state = to_device(xp, params), to_device(xp, state)
    loss_fn = MSELoss()
    opt_state = [Adam(lr=lr_peak).init_state(p) for p in params]
    total = epochs * math.ceil(len(x_train) / args.batch_size)
    step, curve, t0 = 0, [], time.time()
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(x_train))
        loss_sum, seen = 0.0, 0
        for i in range(0, len(order), args.batch_size):
            xb = x_train[order[i:i + args.batch_size]]
            if args.flip:
                mirror = rng.random(len(xb)) < 0.5
                xb[mirror] = xb[mirror, :, :, ::-1]
            xb = xp.asarray(xb)
            y, cache = model.forward(xb, params, train=True, rng=rng, state=state)
            loss, loss_cache = loss_fn.forward(y, xb.reshape(y.shape))
            _, grads = model.backward(loss_fn.backward(loss_cache), cache)
            del cache
            # The optimizer is pure: a new one per step with the current learning rate shares the state.
            opt = Adam(lr=lr_at(step, total, lr_peak, args.warmup))
            for j, g in enumerate(grads):
                if g:
                    params[j], opt_state[j] = opt.step(params[j], g, opt_state[j])
            step += 1
            loss_sum += float(loss) * len(xb)
            seen += len(xb)
        train_mse = loss_sum / seen / PIXELS
        val_mse = pixel_mse(model, params, state, x_val, xp=xp)
        print(f"[{name}] epoch {epoch:3d}  train_mse {train_mse:.5f}  val_mse {val_mse:.5f}  "
              f"{time.time() - t0:7.1f}s (total {time.time() - start:.1f}s, cpu {time.process_time():.1f}s)",
              flush=True)
        curve.append({"epoch": epoch, "loss": loss_sum / seen, "train_mse": train_mse, "val_mse": val_mse})
        curves.write(out, curve)
    # Large weight matrices as float16 (a few MB); the grader evaluates in float32. Host copies.
    params, state = to_device(np, params), to_device(np, state)
    store = [{k: (v.astype(np.float16) if v.ndim == 2 else v) for k, v in p.items()} for p in params]
    save_model(out, arch, store, state)
    print(f"[{name}] saved {out} ({os.path.getsize(out) / 1e6:.2f} MB) after {time.time() - t0:.1f}s", flush=True)
    return out


def draw(path, originals, rows):
    """`originals` (K, 3, 32, 32) in the top row, then one row per (title, reconstructions)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    k = len(originals)
    fig, axes = plt.subplots(1 + len(rows), k, figsize=(1.2 * k, 1.35 * (1 + len(rows))), squeeze=False)
    for r, (title, imgs) in enumerate([("test images", originals)] + list(rows)):
        for c in range(k):
            ax = axes[r, c]
            ax.imshow(np.clip(imgs[c].transpose(1, 2, 0), 0, 1), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(title, rotation=0, ha="right", va="center", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    xp = training.start(args, device_module)
    print("malloc keeps freed memory:", training.keep_freed_memory(), flush=True)
    start = time.time()
    rng = np.random.default_rng(args.seed)
    x_train, x_val = images("train"), images("val")
    if args.train_subset:
        x_train = x_train[:args.train_subset]
    x_test = images("test")[:TEST_IMAGES]
    print(f"data: train {x_train.shape}, val {x_val.shape}, test {x_test.shape}, pixels in [0, 1] "
          f"({time.time() - start:.1f}s)", flush=True)
    mean_image = x_train.mean(axis=0, dtype=np.float64)
    floor = float(((x_test - mean_image) ** 2).mean())
    print(f"the mean training image for every test image: {floor:.5f} per pixel value", flush=True)

    names = ("fc", "conv") if args.model == "both" else (args.model,)
    epochs = {"fc": args.epochs_fc, "conv": args.epochs_conv}
    lrs = {"fc": args.lr_fc, "conv": args.lr_conv}
    saved = {name: train(name, MODELS[name][1], epochs[name], lrs[name], args, x_train, x_val, rng, start, xp=xp)
             for name in names}

    # Evaluate what was saved, as the grader will: reload, float32, evaluation mode.
    rows = []
    for name, path in saved.items():
        arch, params, state = load_model(path)
        params, state = to_device(xp, params), to_device(xp, state)
        model = build_model(arch)
        test = pixel_mse(model, params, state, x_test, xp=xp)
        print(f"[{name}] saved model: test reconstruction error {test:.5f} per pixel value on the first "
              f"{TEST_IMAGES} test images (PSNR {10 * np.log10(1 / test):.2f} dB; mean image {floor:.5f})",
              flush=True)
        rows.append((f"{name}\n{test:.4f}", reconstruct(model, params, state, x_test[:SHOWN], xp=xp)))
    if args.figure:
        try:
            path = os.path.join(args.out_dir, "reconstructions.png")
            draw(path, x_test[:SHOWN], rows)
            print("figure:", path, flush=True)
        except ImportError:
            print("figure: not drawn (pip install matplotlib to see the reconstructions)", flush=True)
    print(f"total time {time.time() - start:.1f}s (cpu {time.process_time():.1f}s: "
          f"less than the total when other processes share the cores)", flush=True)


if __name__ == "__main__":
    try:
        main()
    except NotImplementedError:
        sys.exit("train.py: a layer it needs is not implemented yet (run `dlgrade check autoencoder .` to see which)")
