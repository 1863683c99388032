"""How fast is the reference Conv2d? Forward+backward float32 time against PyTorch CPU and sgemm.

    python benchmarks/conv.py [--repeats 9] [--burst 6]

For each CIFAR-sized layer (N=64) prints the median over `repeats` interleaved bursts (reference,
PyTorch, reference, PyTorch, ...; one warm-up burst each not counted) of forward+backward wall
time, the ratio reference/PyTorch (when torch imports), and the reference's achieved GFLOP/s
(three matrix products of 2*N*F*H'*W'*C*KH*KW flops each) as a fraction of this machine's
float32 GEMM rate (the best of five 2048^3 sgemms, measured once at the start), then the geometric means.
Two context rows follow, on one small layer: dx by np.add.at (the usual col2im) and a naive
loop forward (timed on a tiny input, scaled per output element).

Both libraries use every core the process may run on, or OPENBLAS_NUM_THREADS when set (NumPy's
OpenBLAS reads it; torch.set_num_threads follows it). OMP_WAIT_POLICY defaults to PASSIVE here
(set it to override): otherwise PyTorch's OpenMP threads keep spinning after each call and steal
the cores from the next NumPy run, which on a small machine distorts both sides. On a machine
that other processes keep busy, multithreaded OpenBLAS loses whole scheduler slices waiting for
its second thread at every synchronisation (a 1 ms product can take 16 ms); compare with
`OPENBLAS_NUM_THREADS=1 python benchmarks/conv.py` to see the algorithms rather than the threads.

OpenBLAS's worker threads, in turn, keep spinning for a while after each product (about 0.1 s:
2^28 cycles), and during that time they take a core from the PyTorch step that follows: with two
threads PyTorch then ran at half its speed. So the script sleeps `--gap` seconds (default 0.2)
between a reference step and the next PyTorch step; `--gap 0` gives the old, unfair pairing.

A core that has been idle that long is slow to start again on a virtual machine: after the gap,
the first two or three steps ran at one-thread speed with two threads, for both libraries
(64->64 channels, steps after a 0.2 s sleep: PyTorch 18.9, 19.7, 20.0, then 10.7, 10.3 ms;
the reference 24.0, 24.8, 17.9, then 12.8, 13.0 ms). So each library runs `--burst` steps back
to back, as in training, and only the second half of each burst is counted (`--burst 1`: the
old, cold pairing).

The script asks glibc to keep freed memory in the process, as every train.py does
(grader/student/training.py; `--malloc-default` to not), for both libraries. Otherwise large freed
arrays go back to the system and come back as fresh pages that the kernel faults in and zeroes,
and how much of that a step pays depends on what the other library allocated before it:
PyTorch's 32->32 step took 33.5 ms in one run and 20.4 ms in the next, when only the
reference's allocations had changed.

The header names the CPU, the date, the BLAS kernels in use (threadpoolctl, when installed), the
load average before the run and the reference/ it timed: that of the checkout the script is in
(not the one an editable install points at); quote it with the figures.
"""
import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # read when torch loads libgomp
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # this checkout's reference/

import argparse  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from reference.conv import Conv2d  # noqa: E402

N = 64
LAYERS = [  # (C, F, H, W, kernel, stride, padding)
    (3, 32, 32, 32, 3, 1, 1),
    (32, 32, 32, 32, 3, 1, 1),
    (64, 64, 16, 16, 3, 1, 1),
    (128, 128, 8, 8, 3, 1, 1),
    (3, 16, 32, 32, 5, 2, 2),
]
SMALL = (8, 32, 32, 32, 32, 3, 1, 1)  # (N, C, F, H, W, kernel, stride, padding) for the context rows
TINY = (1, 32, 2, 8, 8)               # (N, C, F, H, W) for the naive loop, same kernel as SMALL


def threads():
    """OPENBLAS_NUM_THREADS (or OMP_NUM_THREADS) when set, else every core this process may use."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(name):
            return int(os.environ[name])
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def machine():
    """CPU model, date and load average, and NumPy's BLAS (kernel, threads) when threadpoolctl imports."""
    import datetime
    import platform
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    blas = "threadpoolctl not installed"
    try:
        import threadpoolctl
        blas = "; ".join(f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')} x{i.get('num_threads')}"
                         for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas")
    except ImportError:
        pass
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    from reference import parallel
    shares = (f"shares of samples on {parallel.THREADS} threads, BLAS single-threaded inside" if parallel.enabled()
              else "one thread, BLAS's own threads")
    return (f"{cpu}{cpu_details()}, {os.cpu_count()} cores; {datetime.datetime.now():%Y-%m-%d %H:%M}; "
            f"load average {load}; NumPy BLAS: {blas}; reference layers: {shares} "
            f"({os.path.dirname(parallel.__file__)})")


def cpu_details():
    """' (family F model M)' from /proc/cpuinfo, where the model name alone is vague (a VM's 'AMD EPYC')."""
    try:
        with open("/proc/cpuinfo") as f:
            info = dict(line.split(":", 1) for line in f.read().split("\n\n")[0].splitlines() if ":" in line)
        info = {k.strip(): v.strip() for k, v in info.items()}
        return f" (family {info['cpu family']} model {info['model']})"
    except (OSError, KeyError):
        return ""


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def sgemm_gflops(n=2048, repeats=5):
    """GFLOP/s of the fastest of `repeats` n x n x n float32 matrix products: what the machine can do."""
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    a @ a
    return 2 * n**3 / min(timed(lambda: a @ a) for _ in range(repeats)) / 1e9


def make(n, c, f, h, w, k, s, p, seed=0):
    rng = np.random.default_rng(seed)
    layer = Conv2d(in_channels=c, out_channels=f, kernel_size=k, stride=s, padding=p)
    params = {k_: v.astype(np.float32) for k_, v in layer.init_params(rng).items()}
    x = rng.standard_normal((n, c, h, w), dtype=np.float32)
    ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    dy = rng.standard_normal((n, f, ho, wo), dtype=np.float32)
    return layer, params, x, dy


def reference_step(layer, params, x, dy):
    def step():
        y, cache = layer.forward(x, params, train=True)
        dx, grads = layer.backward(dy, cache)
        assert y.dtype == dx.dtype == grads["W"].dtype == np.float32
    return step


def torch_step(torch, layer, params, x, dy):
    xt = torch.tensor(x, requires_grad=True)
    wt, bt = (torch.tensor(params[k], requires_grad=True) for k in ("W", "b"))
    dyt = torch.tensor(dy)

    def step():
        y = torch.nn.functional.conv2d(xt, wt, bt, stride=layer.stride, padding=layer.padding)
        y.backward(dyt)
        xt.grad = wt.grad = bt.grad = None
    return step


def dx_add_at(x_shape, W, dy, s, p):
    """dx the cs231n way: dcols = W.T @ dy, then np.add.at scatters it into the padded input."""
    n, c, h, w = x_shape
    f, _, kh, kw = W.shape
    _, _, ho, wo = dy.shape
    dcols = W.reshape(f, -1).T @ dy.transpose(1, 2, 3, 0).reshape(f, -1)  # (C*KH*KW, H'*W'*N)
    i = np.tile(np.repeat(np.arange(kh), kw), c)[:, None] + s * np.repeat(np.arange(ho), wo)[None, :]
    j = np.tile(np.arange(kw), kh * c)[:, None] + s * np.tile(np.arange(wo), ho)[None, :]
    ch = np.repeat(np.arange(c), kh * kw)[:, None]
    dxpad = np.zeros((n, c, h + 2 * p, w + 2 * p), dtype=dy.dtype)
    np.add.at(dxpad, (slice(None), ch, i, j), dcols.reshape(c * kh * kw, -1, n).transpose(2, 0, 1))
    return dxpad[:, :, p:p + h, p:p + w]


def naive_forward(x, W, b, s, p):
    """Four Python loops, one window product per output element."""
    n, c, h, w = x.shape
    f, _, kh, kw = W.shape
    xpad = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    ho, wo = (h + 2 * p - kh) // s + 1, (w + 2 * p - kw) // s + 1
    y = np.empty((n, f, ho, wo), dtype=x.dtype)
    for a in range(n):
        for o in range(f):
            for r in range(ho):
                for q in range(wo):
                    y[a, o, r, q] = np.sum(xpad[a, :, r * s:r * s + kh, q * s:q * s + kw] * W[o]) + b[o]
    return y


def layer_table(torch, rate, repeats, gap=0.0, burst=1):
    """One row per layer in LAYERS, then the geometric means."""
    print(f"{'layer':34s} {'reference':>10s} {'torch':>10s} {'ref/torch':>9s} {'GFLOP/s':>8s} {'of sgemm':>8s}")
    ratios, fractions = [], []
    for c, f, h, w, k, s, p in LAYERS:
        layer, params, x, dy = make(N, c, f, h, w, k, s, p)
        steps = [reference_step(layer, params, x, dy)]
        if torch is not None:
            steps.append(torch_step(torch, layer, params, x, dy))
        times = [[] for _ in steps]
        for run in range(repeats + 1):  # run 0 warms up
            for t, step in zip(times, steps):
                for b in range(burst):
                    elapsed = timed(step)
                    if run and b >= burst // 2:  # a burst's first steps wake the idle cores
                        t.append(elapsed)
                if gap and t is times[0] and len(steps) > 1:
                    time.sleep(gap)  # let OpenBLAS's spinning workers sleep before PyTorch runs
        ours = statistics.median(times[0])
        ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        gflops = 3 * 2 * N * f * ho * wo * c * k * k / ours / 1e9
        fractions.append(gflops / rate)
        theirs, ratio = "-", "-"
        if torch is not None:
            ratios.append(ours / statistics.median(times[1]))
            theirs, ratio = f"{statistics.median(times[1]) * 1e3:8.1f}ms", f"{ratios[-1]:8.2f}x"
        row = f"{c}->{f} {h}x{w} k{k} s{s} p{p}"
        print(f"{row:34s} {ours * 1e3:8.1f}ms {theirs:>10s} {ratio:>9s} {gflops:8.1f} {fractions[-1]:8.0%}")

    def geomean(v):
        return math.exp(sum(map(math.log, v)) / len(v))
    ratio = f"{geomean(ratios):8.2f}x" if ratios else "-"
    print(f"{'geometric mean':34s} {'':10s} {'':10s} {ratio:>9s} {'':8s} {geomean(fractions):8.0%}")


def context_rows(repeats):
    """np.add.at dx and a naive loop forward, against the reference on the SMALL layer."""
    n, c, f, h, w, k, s, p = SMALL
    layer, params, x, dy = make(n, c, f, h, w, k, s, p)
    y, cache = layer.forward(x, params)
    ref_fwd = statistics.median(timed(lambda: layer.forward(x, params)) for _ in range(repeats))
    ref_bwd = statistics.median(timed(lambda: layer.backward(dy, cache)) for _ in range(repeats))
    add_at = statistics.median(timed(lambda: dx_add_at(x.shape, params["W"], dy, s, p)) for _ in range(3))
    np.testing.assert_allclose(dx_add_at(x.shape, params["W"], dy, s, p), layer.backward(dy, cache)[0],
                               rtol=1e-4, atol=1e-4)
    tn, tc, tf, th, tw = TINY
    tiny, tparams, tx, _ = make(tn, tc, tf, th, tw, k, s, p)
    naive = timed(lambda: naive_forward(tx, tparams["W"], tparams["b"], s, p)) / (tn * tf * th * tw)
    np.testing.assert_allclose(naive_forward(tx, tparams["W"], tparams["b"], s, p), tiny.forward(tx, tparams)[0],
                               rtol=1e-4, atol=1e-4)
    naive *= n * f * y.shape[2] * y.shape[3]
    print(f"\ncontext, on {c}->{f} {h}x{w} k{k} s{s} p{p}, N={n}: reference forward {ref_fwd * 1e3:.2f} ms, "
          f"backward (dx, dW, db) {ref_bwd * 1e3:.2f} ms")
    print(f"  dx by np.add.at (matmul + scatter) {add_at * 1e3:8.2f} ms  "
          f"({add_at / ref_bwd:.1f}x the whole reference backward)")
    print(f"  naive loop forward (from {tn}x{tc}x{th}x{tw} -> {tf} channels, scaled per output element) "
          f"{naive * 1e3:8.1f} ms  ({naive / ref_fwd:.0f}x the reference forward)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--burst", type=int, default=6,
                        help="steps of one library back to back; the first half of each is not counted")
    parser.add_argument("--gap", type=float, default=0.2,
                        help="seconds slept after each reference step, before the PyTorch step (0: none)")
    parser.add_argument("--malloc-default", dest="keep", action="store_false",
                        help="leave glibc returning freed memory to the system (the train.py scripts do not)")
    args = parser.parse_args()
    if args.keep:  # as every train.py: reuse freed memory instead of faulting in new pages (both libraries)
        from grader.student.training import keep_freed_memory
        args.keep = keep_freed_memory()
    try:
        import torch
        torch.set_num_threads(threads())
    except ImportError:
        torch = None
    print(machine())
    rate = sgemm_gflops()
    print(f"numpy {np.__version__}, torch {torch.__version__ if torch else 'not importable'}; threads: {threads()}; "
          f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}; malloc keeps freed memory: {args.keep}; "
          f"sgemm {rate:.1f} GFLOP/s; "
          f"median of {args.repeats} interleaved bursts of {args.burst} (gap {args.gap:g} s), float32, N={N}")
    layer_table(torch, rate, args.repeats, args.gap, max(1, args.burst))
    context_rows(args.repeats)
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
