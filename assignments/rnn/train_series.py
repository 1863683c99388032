"""Train a many-to-one temperature forecaster; write `series_weights.npz` and `series_curve.json`.

Usage, in this folder (the series ships with the course: no download):

    python train_series.py [--cell lstm] [--hidden 32] [--window 30] [--epochs 30] [--seed 0] ...

Data: the daily minimum temperature in Melbourne, 1981-1990 (`grader.data.load_temperatures`):
the training part is 1981-1988 (2920 days), the held-out part 1989-1990 (730 days), which only
the final report reads. The series is normalised with the mean and the (population) standard
deviation of the training part alone: statistics of the held-out days would leak them into the
model. The last tenth of the training windows is the validation set that picks the best epoch.

Model: LSTM (or GRU, RNN) over a window of --window days, one input per day, then
TemporalLinear to one output; the output at the window's last step is the forecast of the next
day (many-to-one: the loss reads only that step). Mean squared error on the normalised values,
Adam with a cosine learning-rate schedule and global gradient-norm clipping, float32. Only this
folder's code is used.

The weights file holds `arch`, the parameters (matrices as float16 unless --no-half) and
`settings`, a JSON string {"mean", "std", "window"}: what the grader needs to read the model
(docs: the rnn contract). At the end the saved file is reloaded and the held-out days are
forecast one step ahead from the true previous window, against persistence (tomorrow's minimum
is today's), as the grader does.
"""
import argparse
import json
import math
import os
import sys
import time

# One BLAS thread unless the environment says otherwise (see train.py).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)                        # this folder's rnn, layers, optim, text, model
sys.path.insert(1, os.path.dirname(os.path.dirname(HERE)))  # the repository root, for grader

from grader import curves, training  # noqa: E402
from grader.data import load_temperatures  # noqa: E402

from layers import device_module  # noqa: E402
from model import build_model  # noqa: E402
from optim import Adam  # noqa: E402
from text import clip_grad_norm  # noqa: E402

CELLS = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cell", choices=sorted(CELLS), default="lstm", help="recurrent layer type")
    p.add_argument("--hidden", type=int, default=32, help="hidden size of the recurrent layer")
    p.add_argument("--window", type=int, default=30, help="days the model reads before the day it forecasts")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--lr", type=float, default=3e-3, help="peak Adam learning rate (cosine to 0)")
    p.add_argument("--clip", type=float, default=1.0, help="max global gradient norm")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--val-fraction", type=float, default=0.1,
                   help="the last fraction of the training windows, held out to pick the best epoch")
    p.add_argument("--no-half", dest="half", action="store_false",
                   help="store the weight matrices as float32 instead of float16")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=os.path.join(HERE, "series_weights.npz"), help="weights file")
    return p.parse_args(argv)


def windows(z, ends, window):
    """(len(ends), window, 1) float32: the `window` values before each index of `ends`."""
    return np.stack([z[i - window:i] for i in ends]).astype(np.float32)[:, :, None]


def forecast(model, params, z, ends, window, batch=1000):
    """The model's normalised forecasts of z[ends], each from the true window before it."""
    out = []
    for i in range(0, len(ends), batch):
        y, _ = model.forward(windows(z, ends[i:i + batch], window), params, train=False, state=model.init_state())
        out.append(y[:, -1, 0].astype(np.float64))
    return np.concatenate(out)


def save(path, arch, params, settings, half):
    arrays = {f"{i}.{k}": (v.astype(np.float16) if half and v.ndim == 2 else v)
              for i, p in enumerate(params) for k, v in p.items()}
    np.savez(path, arch=np.array(json.dumps(arch)), settings=np.array(json.dumps(settings)), **arrays)


def load(path):
    """(arch, params in float32, settings) of a file written by `save`."""
    with np.load(path, allow_pickle=False) as data:
        arch = json.loads(str(data["arch"]))
        settings = json.loads(str(data["settings"]))
        params = [{} for _ in arch]
        for key in data.files:
            if key not in ("arch", "settings"):
                i, name = key.split(".", 1)
                params[int(i)][name] = data[key].astype(np.float32)
    return arch, params, settings


def main(argv=None):
    args = parse_args(argv)
    args.device = "cpu"
    training.start(args, device_module)
    start = time.time()
    rng = np.random.default_rng(args.seed)
    data = load_temperatures()
    train, test = data["train"], data["test"]
    mean, std = float(train.mean()), float(train.std())  # the training part only
    series = np.concatenate([train, test])
    z = ((series - mean) / std).astype(np.float32)
    W = args.window
    ends = np.arange(W, len(train))                       # days of the training part with a full window
    n_val = int(len(ends) * args.val_fraction)
    fit, val = ends[:len(ends) - n_val], ends[len(ends) - n_val:]
    print(f"data: {len(train)} training days ({data['dates_train'][0]} to {data['dates_train'][-1]}), "
          f"{len(fit)} windows of {W} days to fit, {len(val)} to validate; {len(test)} held-out days", flush=True)
    print(f"normalisation (training part): mean {mean:.4f}, std {std:.4f}", flush=True)

    arch = [{"type": CELLS[args.cell], "input_size": 1, "hidden_size": args.hidden},
            {"type": "TemporalLinear", "in_features": args.hidden, "out_features": 1}]
    model = build_model(arch)
    params = [{k: v.astype(np.float32) for k, v in p.items()} for p in model.init_params(rng)]
    if args.cell == "lstm":  # forget-gate bias at 1
        params[0]["b"][args.hidden:2 * args.hidden] = 1.0
    print("model:", " -> ".join(str(layer) for layer in model.layers), flush=True)
    print(f"parameters: {sum(v.size for p in params for v in p.values()):,}", flush=True)

    opt_state = [Adam(lr=args.lr).init_state(p) for p in params]
    steps_per_epoch = math.ceil(len(fit) / args.batch_size)
    total, step = args.epochs * steps_per_epoch, 0
    best = (math.inf, None, 0)
    curve = []
    for epoch in range(1, args.epochs + 1):
        losses = []
        for b, batch in enumerate(np.array_split(rng.permutation(fit), steps_per_epoch)):
            lr = 0.5 * args.lr * (1 + math.cos(math.pi * step / total))
            y, cache = model.forward(windows(z, batch, W), params, train=True, rng=rng, state=model.init_state())
            err = y[:, -1, 0] - z[batch]
            dy = np.zeros_like(y)
            dy[:, -1, 0] = 2 * err / len(batch)          # many-to-one: only the last step's output is read
            _, grads = model.backward(dy, cache)
            flat = {f"{i}.{k}": g for i, gs in enumerate(grads) for k, g in gs.items()}
            flat, _ = clip_grad_norm(flat, args.clip)
            opt = Adam(lr=lr)
            for i, p in enumerate(params):
                if p:
                    params[i], opt_state[i] = opt.step(p, {k: flat[f"{i}.{k}"] for k in p}, opt_state[i])
            losses.append(float((err ** 2).mean()))
            step += 1
        val_mae = float(np.abs(forecast(model, params, z, val, W) - z[val]).mean() * std)
        if val_mae < best[0]:
            best = (val_mae, [dict(p) for p in params], epoch)
        print(f"epoch {epoch:3d}  step {step:5d}  loss {np.mean(losses):.4f}  val MAE {val_mae:.4f} deg C  "
              f"lr {lr:.2e}  {time.time() - start:6.1f}s", flush=True)
        curve.append({"epoch": epoch, "step": step, "loss": float(np.mean(losses)), "val_mae": val_mae})
        curves.write(args.out, curve)
    print(f"best val MAE {best[0]:.4f} deg C at epoch {best[2]}", flush=True)

    save(args.out, arch, best[1], {"mean": mean, "std": std, "window": W}, args.half)
    print(f"saved {args.out} ({os.path.getsize(args.out) / 1e3:.1f} kB)", flush=True)

    # The held-out days, from what was saved, as the grader reads it.
    arch2, params2, settings = load(args.out)
    model2 = build_model(arch2)
    days = np.arange(len(train), len(series))
    pred = forecast(model2, params2, ((series - settings["mean"]) / settings["std"]).astype(np.float32), days,
                    settings["window"]) * settings["std"] + settings["mean"]
    mae = float(np.abs(pred - series[days]).mean())
    base = float(np.abs(series[days - 1] - series[days]).mean())
    seasonal = float(np.abs(series[days - 365] - series[days]).mean())
    print(f"held-out ({data['dates_test'][0]} to {data['dates_test'][-1]}): MAE {mae:.4f} deg C, persistence "
          f"{base:.4f}, ratio {mae / base:.4f} (the same day a year before: {seasonal:.4f})", flush=True)
    print(f"total time {time.time() - start:.1f}s", flush=True)


if __name__ == "__main__":
    try:
        main()
    except NotImplementedError:
        sys.exit("train_series.py: a layer, loss or utility it needs is not implemented yet "
                 "(run `dlgrade check rnn .` to see which)")
