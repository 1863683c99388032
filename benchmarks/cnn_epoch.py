"""One CNN training epoch: the reference NumPy layers against the same network in PyTorch.

    python benchmarks/cnn_epoch.py [--steps 20] [--batch-size 64] [--threads 2]

Builds the answer key's CNN (`solutions/cnn/train.py`'s default architecture: conv3x3-BN-ReLU
blocks 32, pool, 64, 64, pool, 128, 128, pool, linear) from `reference/` layers and from
`torch.nn`, times `--steps` training steps (forward, cross-entropy, backward, SGD update) of each
on the same random CIFAR-sized float32 batches, interleaved, and prints the median step time,
the time of one 49,000-image epoch at that rate, and the ratio reference / PyTorch.
"""
import argparse
import os
import statistics
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import numpy as np

    from reference.conv import BatchNorm2d, Conv2d, MaxPool2d
    from reference.layers import Flatten, Linear, ReLU, Sequential
    from reference.losses import CrossEntropyLoss

    widths = [32, "p", 64, 64, "p", 128, 128, "p"]
    layers, channels = [], 3
    for w in widths:
        if w == "p":
            layers.append(MaxPool2d(kernel_size=2))
        else:
            layers += [Conv2d(in_channels=channels, out_channels=w, kernel_size=3, padding=1),
                       BatchNorm2d(num_features=w), ReLU()]
            channels = w
    layers += [Flatten(), Linear(in_features=channels * 16, out_features=10)]
    model = Sequential(layers=layers)
    rng = np.random.default_rng(0)
    params = [{k: v.astype(np.float32) for k, v in p.items()} for p in model.init_params(rng)]
    state = [{k: v.astype(np.float32) for k, v in s.items()} for s in model.init_state()]
    loss_fn = CrossEntropyLoss()
    batches = [(rng.standard_normal((args.batch_size, 3, 32, 32), dtype=np.float32),
                rng.integers(0, 10, args.batch_size)) for _ in range(4)]

    def numpy_step(x, y):
        scores, cache = model.forward(x, params, train=True, rng=rng, state=state)
        loss, lcache = loss_fn.forward(scores, y)
        _, grads = model.backward(loss_fn.backward(lcache), cache)
        for p, g in zip(params, grads):
            for k in p:
                p[k] = p[k] - 0.01 * g[k]

    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        torch.set_num_threads(args.threads)
        mods, channels = [], 3
        for w in widths:
            if w == "p":
                mods.append(torch.nn.MaxPool2d(2))
            else:
                mods += [torch.nn.Conv2d(channels, w, 3, padding=1), torch.nn.BatchNorm2d(w), torch.nn.ReLU()]
                channels = w
        net = torch.nn.Sequential(*mods, torch.nn.Flatten(), torch.nn.Linear(channels * 16, 10))
        opt = torch.optim.SGD(net.parameters(), lr=0.01)
        tbatches = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]

        def torch_step(x, y):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x), y).backward()
            opt.step()

    times = {"reference": [], "torch": []}
    for i in range(args.steps + 2):  # two warm-up steps each
        x, y = batches[i % len(batches)]
        order = ["reference", "torch"] if i % 2 == 0 else ["torch", "reference"]
        for who in order:
            if who == "torch" and torch is None:
                continue
            start = time.perf_counter()
            numpy_step(x, y) if who == "reference" else torch_step(*tbatches[i % len(batches)])
            if i >= 2:
                times[who].append(time.perf_counter() - start)
    steps_per_epoch = 49000 / args.batch_size
    print(f"CNN training step, batch {args.batch_size}, float32, {args.threads} threads, "
          f"median of {args.steps} interleaved steps")
    ref = statistics.median(times["reference"])
    print(f"  reference NumPy layers: {ref * 1e3:8.1f} ms/step  -> {ref * steps_per_epoch / 60:5.1f} min/epoch")
    if times["torch"]:
        tt = statistics.median(times["torch"])
        print(f"  PyTorch {torch.__version__:>14}: {tt * 1e3:8.1f} ms/step  -> {tt * steps_per_epoch / 60:5.1f} min/epoch")
        print(f"  ratio reference / PyTorch: {ref / tt:.2f}x")


if __name__ == "__main__":
    main()
