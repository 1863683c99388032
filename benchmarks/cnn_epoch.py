"""One CNN training epoch: the reference NumPy layers against the same network in PyTorch.

    python benchmarks/cnn_epoch.py [--steps 20] [--batch-size 64] [--threads 2] [--burst 4]

Builds the answer key's CNN (`solutions/cnn/train.py`'s default architecture: conv3x3-BN-ReLU
blocks 32, pool, 64, 64, pool, 128, 128, pool, linear) from `reference/` layers and from
`torch.nn`, times `--steps` training steps (forward, cross-entropy, backward, SGD update) of each
on the same random CIFAR-sized float32 batches, interleaved in bursts of `--burst` steps of one
library (the first half of each burst, which wakes the idle cores after the other library's
turn, is not counted: see benchmarks/conv.py), and prints the median step time,
the time of one 49,000-image epoch at that rate, and the ratio reference / PyTorch.

The data pipeline is timed too: `--data` adds, to every reference step, what
`solutions/cnn/train.py` does per batch (a random crop with 4-pixel padding and a random
horizontal flip of a preprocessed uint8 CIFAR-sized batch), so the figure is that of training.
As in benchmarks/conv.py, PyTorch's OpenMP threads wait passively (OMP_WAIT_POLICY=PASSIVE unless
set) and the script sleeps `--gap` seconds after each reference step, so that neither library's
idle threads spin on the cores the other one is using. Like `solutions/cnn/train.py`, the
script asks glibc to keep freed memory (`--malloc-default` to not): otherwise every step's large
NumPy arrays are fresh mmaps whose pages the kernel faults in and zeroes again (PyTorch has its
own caching allocator).
"""
import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # read when torch loads libgomp
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--burst", type=int, default=4,
                        help="steps of one library back to back; the first half of each is not counted")
    parser.add_argument("--gap", type=float, default=0.2,
                        help="seconds slept after each reference step, before the PyTorch step (0: none)")
    parser.add_argument("--no-data", dest="data", action="store_false",
                        help="leave out the data pipeline (batch gather, crop, flip) from both steps")
    parser.add_argument("--malloc-default", dest="keep", action="store_false",
                        help="leave glibc returning freed memory to the system (train.py does not)")
    args = parser.parse_args()
    if args.keep:  # as solutions/cnn/train.py: reuse freed memory instead of faulting in new pages
        from grader.student.training import keep_freed_memory
        args.keep = keep_freed_memory()
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
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
    pool = rng.standard_normal((4096, 3, 32, 32), dtype=np.float32)  # a preprocessed training set

    def augment(x, t=4):
        """solutions/cnn/train.py's pipeline: random 4-pixel translations and horizontal flips."""
        n, c, h, w = x.shape
        padded = np.zeros((n, c, h + 2 * t, w + 2 * t), dtype=x.dtype)
        padded[:, :, t:t + h, t:t + w] = x
        windows = np.lib.stride_tricks.sliding_window_view(padded, (h, w), axis=(2, 3))
        dy, dx = rng.integers(0, 2 * t + 1, size=(2, n))
        x = windows[np.arange(n), :, dy, dx]
        mirror = rng.random(n) < 0.5
        x[mirror] = x[mirror, :, :, ::-1]
        return x

    def data_step(i):
        """The batch for step i: a fresh augmented batch (--data), else one of four fixed ones."""
        if not args.data:
            return batches[i % len(batches)]
        idx = rng.choice(len(pool), args.batch_size, replace=False)
        return augment(pool[idx]), batches[i % len(batches)][1]

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

        def torch_step(x, y):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x), y).backward()
            opt.step()

    times = {"reference": [], "torch": []}
    burst = max(1, args.burst)
    counted = burst - burst // 2
    step = 0
    for i in range(-(-args.steps // counted) + 1):  # one warm-up round
        order = ["reference", "torch"] if i % 2 == 0 else ["torch", "reference"]
        for who in order:
            if who == "torch" and torch is None:
                continue
            for b in range(burst):
                start = time.perf_counter()
                x, y = data_step(step)
                step += 1
                if who == "reference":
                    numpy_step(x, y)
                else:
                    torch_step(torch.from_numpy(x), torch.from_numpy(y))
                if i and b >= burst // 2 and len(times[who]) < args.steps:
                    times[who].append(time.perf_counter() - start)
            if torch is not None and args.gap:
                time.sleep(args.gap)  # let OpenBLAS's spinning workers sleep before the other library runs
    steps_per_epoch = 49000 / args.batch_size
    after = " ".join(f"{v:.2f}" for v in os.getloadavg())
    from benchmarks.conv import machine, sgemm_gflops
    print(machine())
    print(f"numpy {np.__version__}; sgemm {sgemm_gflops():.1f} GFLOP/s with {args.threads} BLAS threads (after the steps)")
    print(f"CNN training step, batch {args.batch_size}, float32, {args.threads} threads, "
          f"median of {args.steps} steps in interleaved bursts of {burst} (gap {args.gap:g} s), "
          f"{'with' if args.data else 'without'} the data pipeline; malloc keeps freed memory: {args.keep}; "
          f"load average before: {load}, after: {after}")
    ref = statistics.median(times["reference"])
    print(f"  reference NumPy layers: {ref * 1e3:8.1f} ms/step  -> {ref * steps_per_epoch / 60:5.1f} min/epoch")
    if times["torch"]:
        tt = statistics.median(times["torch"])
        print(f"  PyTorch {torch.__version__:>14}: {tt * 1e3:8.1f} ms/step  -> {tt * steps_per_epoch / 60:5.1f} min/epoch")
        print(f"  ratio reference / PyTorch: {ref / tt:.2f}x")


if __name__ == "__main__":
    main()
