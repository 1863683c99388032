"""Reference layers for the `cnn` curriculum: convolution, pooling and spatial batch norm.

Same contract as reference/layers.py (docs/contracts.md): keyword-only hyperparameters,
`forward(x, params, *, train, rng, state) -> (y, cache)`, `backward(dy, cache) -> (dx, grads)`,
outputs and gradients in the dtype of `x`, inputs never modified. Images are NCHW.

Conv2d is the speed yardstick for students, so it is written for speed (see benchmarks/conv.py):
its work arrays are channels-last (N, H, W, C), so that every product has the long dimension
(the N*H'*W' output positions) as its rows and the channels as its columns, the shape BLAS runs
fastest; im2col is one copy of a strided view per block of samples, sized to stay in the cache;
at stride 1, dx is the same im2col-and-product on dy (no col2im). y and dx are NCHW-shaped views
of channels-last memory, which the pooling, batch-norm and ReLU layers keep, so in a network the
layout changes only at the input. An input layer (1-3 channels) works on per-sample, channel-first
patches instead (_narrow_forward). Work arrays a call drops are kept per thread for the next
call (_scratch). Everything stays in the dtype of `x`; the same code runs on NumPy and CuPy
(where a block is the whole batch).
"""
import threading

import numpy

from . import parallel
from .backend import get_array_module
from .init import he_normal
from .layers import REGION_SAFE, BatchNorm1d, Layer


def _pair(v):
    """(a, b) from an int or a pair."""
    a, b = (v, v) if isinstance(v, int) else tuple(v)
    return int(a), int(b)


def _size_hp(v):
    """A kernel size as given, made JSON-able: an int stays an int, a pair becomes a tuple of ints."""
    return int(v) if isinstance(v, int) else _pair(v)


def _conv_geometry(layer, x, params):
    """(W in x's dtype, (N, C, H, W, F, KH, KW, H', W'), (stride, padding)) of a convolution,
    after checking that x's channels match W's."""
    N, C, H, Wd = x.shape
    Wt = params["W"].astype(x.dtype, copy=False)
    F, Cw, KH, KW = Wt.shape
    if C != Cw:
        raise ValueError(f"x has {C} channels, W expects {Cw}")
    s, p = layer.stride, layer.padding
    return Wt, (N, C, H, Wd, F, KH, KW, _out_size(H, KH, s, p), _out_size(Wd, KW, s, p)), (s, p)


def _out_size(size, k, stride, pad=0):
    out = (size + 2 * pad - k) // stride + 1
    if out < 1:
        raise ValueError(f"kernel {k} (stride {stride}, padding {pad}) does not fit an input of size {size}")
    return out


def _offsets(kh, kw, sh, sw, ho, wo):
    """(i, j, rows, cols) for each kernel offset in row-major order: the slices of a (padded)
    input that offset (i, j) of every window reads, for outputs ho x wo at strides (sh, sw)."""
    return [(i, j, slice(i, i + sh * (ho - 1) + 1, sh), slice(j, j + sw * (wo - 1) + 1, sw))
            for i in range(kh) for j in range(kw)]


class Conv2d(Layer):
    """2-D cross-correlation y[n, f] = sum_c W[f, c] (*) xpad[n, c] + b[f], as torch's conv2d.

    Shapes: x (N, C, H, W) -> y (N, F, H', W') with H' = (H + 2P - KH) // S + 1 (W' alike);
    W (F, C, KH, KW); b (F,). dtype: that of x.
    Notes: zero padding P on every side, the same stride S along both axes. The work arrays are
    channels-last: with the patch matrix cols (N*H'*W', KH*KW*C) (im2col, one row per output
    position, columns (i, j, c)) and Wm (KH*KW*C, F), y = cols @ Wm + b and dW = cols.T @ dy,
    dy taken as (N*H'*W', F). At stride 1, dx is the same product on the patches of dy padded
    by K-1 with the flipped kernel (a "full" correlation); otherwise dcols = dy @ W.T,
    added back onto the windows they came from (col2im). y and dx are NCHW views of
    channels-last memory: valid NCHW arrays, and a channels-last dy costs no transpose.
    With 1 to 3 input channels (_narrow_forward) the patches are per sample, channel first,
    and dx is NCHW.
    """

    def __init__(self, *, in_channels, out_channels, kernel_size, stride=1, padding=0):
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = _size_hp(kernel_size)
        self.stride = int(stride)
        self.padding = int(padding)
        if self.stride < 1 or self.padding < 0:
            raise ValueError(f"need stride >= 1 and padding >= 0, got {self.stride}, {self.padding}")

    def init_params(self, rng):
        """He normal weights (fan_in = C*KH*KW), zero bias; float64."""
        kh, kw = _pair(self.kernel_size)
        fan_in = self.in_channels * kh * kw
        W = he_normal(fan_in, self.out_channels, rng=rng).T.reshape(self.out_channels, self.in_channels, kh, kw)
        return {"W": W, "b": get_array_module(W).zeros(self.out_channels)}

    def forward(self, x, params, *, train=False, rng=None, state=None):
        xp = get_array_module(x)
        Wt, (N, C, H, Wd, F, KH, KW, Ho, Wo), (s, p) = _conv_geometry(self, x, params)
        if C < _NARROW_CHANNELS:
            return _narrow_forward(xp, x, Wt, params["b"].astype(x.dtype, copy=False), s, p, Ho, Wo)
        xpad = xp.empty((N, H + 2 * p, Wd + 2 * p, C), dtype=x.dtype)
        Wm = xp.ascontiguousarray(Wt.transpose(2, 3, 1, 0)).reshape(KH * KW * C, F)  # rows (i, j, c)
        y = xp.empty((N * Ho * Wo, F), dtype=x.dtype)  # rows (n, h', w'): channels-last
        b = params["b"].astype(x.dtype, copy=False)

        def share(n0, n1):  # samples n0..n1-1: pad, im2col, product
            _pad_channels_last(xp, x[n0:n1], p, p, out=xpad[n0:n1])
            out = y[n0 * Ho * Wo:n1 * Ho * Wo]
            for rows, cols in _patches(xp, xpad[n0:n1], KH, KW, s, Ho, Wo):
                xp.matmul(cols, Wm, out=out[rows])
                out[rows] += b
        parallel.shares(xp, N, N * Ho * Wo * KH * KW * C * x.itemsize, share)
        return y.reshape(N, Ho, Wo, F).transpose(0, 3, 1, 2), (xpad, Wt, Wm, s, p, x.shape)

    def backward(self, dy, cache):
        xp = get_array_module(dy)
        if isinstance(cache, _NarrowCache):
            return _narrow_backward(xp, dy, cache)
        xpad, Wt, Wm, s, p, (N, C, H, Wd) = cache
        F, _, KH, KW = Wt.shape
        Ho, Wo = dy.shape[2:]
        dyt = dy.transpose(0, 2, 3, 1)  # (N, H', W', F): contiguous if dy is channels-last
        copy_dy = not dyt.flags.c_contiguous
        if copy_dy:
            dyt = _scratch(xp, "dy", dyt.shape, dy.dtype)
        dyt = dyt.reshape(-1, F)
        # The longer side of dW (KH*KW*C or F) first with several BLAS threads: on these products
        # with a long inner dimension, multithreaded OpenBLAS is often many times slower the other
        # way round; with one thread, (K, P) @ (P, F) is the faster order.
        full = s == 1 and C >= _FULL_MIN_CHANNELS
        if full:
            Wflip = xp.ascontiguousarray(Wt[:, :, ::-1, ::-1].transpose(2, 3, 0, 1)).reshape(KH * KW * F, C)
            dx = xp.empty((N * H * Wd, C), dtype=dy.dtype)
        else:
            dx = xp.empty((N, C, H, Wd), dtype=dy.dtype)
        per_sample = Ho * Wo * KH * KW * max(C, F if full else 0) * dy.itemsize

        def share(n0, n1):  # samples n0..n1-1: their parts of dW (as (K, F) or (F, K)) and db
            m0, m1 = n0 * Ho * Wo, n1 * Ho * Wo
            if copy_dy:
                _copy_channels_last(xp, dyt[m0:m1].reshape(n1 - n0, Ho, Wo, F), dy[n0:n1])
            d = dyt[m0:m1]
            wide = Wm.shape[0] >= F or parallel.single_blas()
            dWm = xp.zeros(Wm.shape if wide else Wm.shape[::-1], dtype=dy.dtype)
            part = xp.empty(dWm.shape, dtype=dy.dtype)
            for rows, cols in _patches(xp, xpad[n0:n1], KH, KW, s, Ho, Wo):
                dWm += xp.matmul(cols.T, d[rows], out=part) if wide else xp.matmul(d[rows].T, cols, out=part)
            if full:
                # dxpad = full correlation of dy with the flipped kernel; dx is its interior.
                n = n1 - n0
                dyq = _scratch(xp, "dy_padded", (n, Ho + 2 * (KH - 1), Wo + 2 * (KW - 1), F), dy.dtype, zero=True)
                dyq[:, KH - 1:KH - 1 + Ho, KW - 1:KW - 1 + Wo] = d.reshape(n, Ho, Wo, F)
                dyq = dyq[:, p:p + H + KH - 1, p:p + Wd + KW - 1]
                out = dx[n0 * H * Wd:n1 * H * Wd]
                for rows, cols in _patches(xp, dyq, KH, KW, 1, H, Wd):
                    xp.matmul(cols, Wflip, out=out[rows])
            else:
                _col2im_nchw(xp, Wt, d, s, p, H, Wd, Ho, Wo, out=dx[n0:n1])
            db = xp.ones(d.shape[0], dtype=d.dtype) @ d  # the sum over rows
            return (dWm if wide else dWm.T), db
        parts = parallel.shares(xp, N, N * per_sample, share)
        dWm, db = parts[0]
        for part, part_b in parts[1:]:
            dWm += part
            db += part_b
        dW = xp.ascontiguousarray(dWm.reshape(KH, KW, C, F).transpose(3, 2, 0, 1))
        if full:
            dx = dx.reshape(N, H, Wd, C).transpose(0, 3, 1, 2)
        return dx, {"W": dW, "b": db}


# Below this many input channels (or at stride > 1), Conv2d's dx is col2im on NCHW work arrays:
# the full-correlation product has only C output columns, slow in BLAS when C is small.
_FULL_MIN_CHANNELS = 16
# Below this many input channels (an RGB or grey input layer) Conv2d takes the narrow path
# (_narrow_forward): channels-last patch rows of C values are too short for fast copies. At 3
# channels it took forward+backward of 3->32 channels at 32x32 (N=64, float32) from 8.2 to 4.9 ms
# with one thread and 4.6 to 2.8 ms with two (benchmarks/conv_versions.py against the code before
# it); from 4 channels on the two paths were even or the channels-last one faster.
_NARROW_CHANNELS = 4
# On NumPy, im2col and the products work on blocks of samples whose patch matrix is at most this
# large, so that they stay in the cache instead of streaming the whole patch matrix through memory:
# about the L2 cache with one BLAS thread (also inside a share, reference/parallel.py); with
# several, a share of L3 and fewer, larger products, because each product makes the BLAS threads
# meet, which costs dearly on a busy machine.
_BLOCK_BYTES_1 = 2 << 20
_BLOCK_BYTES_N = 16 << 20


# Work arrays that a call uses and drops are kept per thread for the next call (_scratch), up to
# this size each: glibc returns large freed blocks to the system, and the kernel must then fault
# in and zero fresh pages for the next call's arrays, which took a fifth of the 32-channel
# layer's time (N=64, float32, one thread: 38 ms per forward+backward, 30.5 ms with glibc
# keeping freed memory, as the train.py scripts ask).
_SCRATCH_BYTES = 64 << 20
_scratch_local = threading.local()


def _scratch(xp, name, shape, dtype, zero=False):
    """An uninitialised (or zero-filled) array for work inside one call: on NumPy the memory of
    the last array of this name in this thread, when large enough and at most _SCRATCH_BYTES. A
    caller must be done with it before it asks for the same name again; results never live in it."""
    nbytes = int(numpy.prod(shape)) * numpy.dtype(dtype).itemsize
    if xp is not numpy or nbytes > _SCRATCH_BYTES:
        return (xp.zeros if zero else xp.empty)(shape, dtype=dtype)
    pool = getattr(_scratch_local, "pool", None)
    if pool is None:
        pool = _scratch_local.pool = {}
    block = pool.get(name)
    if block is None or block.nbytes < nbytes:
        block = pool[name] = numpy.empty(nbytes, dtype=numpy.uint8)
    out = block[:nbytes].view(dtype).reshape(shape)
    if zero:
        out.fill(0)
    return out


def _pad_channels_last(xp, x, ph, pw, out=None):
    """(N, C, H, W) -> zero-padded channels-last copy (N, H + 2ph, W + 2pw, C) (into `out`)."""
    N, C, H, W = x.shape
    if out is None:
        out = xp.empty((N, H + 2 * ph, W + 2 * pw, C), dtype=x.dtype)
    if ph:
        out[:, :ph] = 0
        out[:, H + ph:] = 0
    if pw:
        out[:, ph:ph + H, :pw] = 0
        out[:, ph:ph + H, W + pw:] = 0
    _copy_channels_last(xp, out[:, ph:ph + H, pw:pw + W], x)
    return out


def _copy_channels_last(xp, out, x):
    """out (N, H, W, C) = x (N, C, H, W) transposed. When x's channel stride is a multiple of
    4 KiB (a 32x32 float32 image), reading many channels of one pixel at once makes every read
    fall into the same cache set; copying 8 channels at a time avoids that (2x faster here)."""
    cstride = x.strides[1]
    step = 8 if xp is numpy and cstride % 4096 == 0 and x.shape[1] > 8 and x.strides[3] == x.itemsize else x.shape[1]
    for c0 in range(0, x.shape[1], step):
        out[..., c0:c0 + step] = x[:, c0:c0 + step].transpose(0, 2, 3, 1)


def _blocks(xp, n, per_sample_bytes):
    """(start, stop) of blocks of samples: cache-sized on NumPy, the whole batch on CuPy."""
    limit = _BLOCK_BYTES_1 if parallel.single_blas() else _BLOCK_BYTES_N
    nb = n if xp is not numpy else max(1, min(n, limit // max(1, per_sample_bytes)))
    return [(n0, min(n0 + nb, n)) for n0 in range(0, n, nb)], nb


def _patches(xp, a, KH, KW, s, Ho, Wo):
    """For each block of samples: (its rows of the patch matrix, the block's patches
    (n*Ho*Wo, KH*KW*C) copied from the strided windows of the channels-last array a)."""
    N, C = a.shape[0], a.shape[3]
    sn, sh, sw, sc = a.strides
    blocks, nb = _blocks(xp, N, Ho * Wo * KH * KW * C * a.itemsize)
    buf = _scratch(xp, "patches", (nb, Ho, Wo, KH, KW, C), a.dtype)
    for n0, n1 in blocks:
        windows = xp.lib.stride_tricks.as_strided(
            a[n0:n1], (n1 - n0, Ho, Wo, KH, KW, C), (sn, sh * s, sw * s, sh, sw, sc))
        out = buf[:n1 - n0]
        xp.copyto(out, windows)
        yield slice(n0 * Ho * Wo, n1 * Ho * Wo), out.reshape(-1, KH * KW * C)


class _NarrowCache(tuple):
    """Conv2d's cache on the narrow path: (cols, Wr, x.shape, stride, padding, kernel size)."""


def _narrow_forward(xp, x, Wt, b, s, p, Ho, Wo):
    """Conv2d forward for few input channels, one sample at a time (a batched product).

    Per sample, the patch matrix cols[n] (C*KH*KW + 1, H'*W') has rows (c, i, j) copied from the
    zero-padded NCHW input in runs of W' (KH*KW copies in all) and a last row of ones; with
    Wr = [W as (F, C*KH*KW) | b], y[n] = cols[n].T @ Wr.T is (H'*W', F): channels-last, the bias
    added by the product. The cache keeps cols for dW (its ones row gives db)."""
    N, C, H, Wd = x.shape
    F, _, KH, KW = Wt.shape
    K = C * KH * KW
    Wr = xp.empty((F, K + 1), dtype=x.dtype)
    Wr[:, :K] = Wt.reshape(F, K)
    Wr[:, K] = b
    cols = xp.empty((N, K + 1, Ho * Wo), dtype=x.dtype)
    y = xp.empty((N, Ho * Wo, F), dtype=x.dtype)

    def share(n0, n1):
        phases = _phase_split(xp, _pad_nchw(xp, x[n0:n1], p), s)
        patches = cols[n0:n1, :K].reshape(n1 - n0, C, KH, KW, Ho, Wo)
        for i in range(KH):
            for j in range(KW):
                patches[:, :, i, j] = _phase_window(phases, i, j, s, Ho, Wo)
        cols[n0:n1, K] = 1
        xp.matmul(cols[n0:n1].transpose(0, 2, 1), Wr.T, out=y[n0:n1])
    parallel.shares(xp, N, cols.nbytes, share)
    return y.reshape(N, Ho, Wo, F).transpose(0, 3, 1, 2), _NarrowCache((cols, Wr, x.shape, s, p, (KH, KW)))


def _narrow_backward(xp, dy, cache):
    """Conv2d backward after _narrow_forward: per sample [dW | db] = dy[n] @ cols[n].T summed over
    the samples, dcols[n] = W.T @ dy[n], added back onto the windows they came from (col2im) in
    the phases of the padded dx (_phase_split). For that product dy is copied onto a grid one
    phase wide (zero beyond W'), which makes each kernel offset's part of dx one run of H' times
    that width per sample and channel, instead of H' runs of W'; a channels-last dy at stride 1
    is used as it is (the copy would cost more than the short runs). dx is NCHW."""
    cols, Wr, (N, C, H, Wd), s, p, (KH, KW) = cache
    F, K = Wr.shape[0], Wr.shape[1] - 1
    Ho, Wo = dy.shape[2:]
    hq, wq = -(-(H + 2 * p) // s), -(-(Wd + 2 * p) // s)
    channels_last = dy.transpose(0, 2, 3, 1).flags.c_contiguous
    if channels_last:  # d[n] is (F, H'*W'), transposed
        d = dy.transpose(0, 2, 3, 1).reshape(N, Ho * Wo, F).transpose(0, 2, 1)
    else:
        d = xp.ascontiguousarray(dy).reshape(N, F, Ho * Wo)
    width = Wo if channels_last and s == 1 else wq
    WrT = Wr[:, :K].T
    dx = xp.empty((N, C, H, Wd), dtype=dy.dtype)

    def share(n0, n1):
        n = n1 - n0
        dWb = xp.matmul(d[n0:n1], cols[n0:n1].transpose(0, 2, 1)).sum(axis=0)  # (F, K + 1)
        grid = d[n0:n1]
        if width != Wo:
            grid = _scratch(xp, "dy_grid", (n, F, Ho, width), dy.dtype, zero=True)
            grid[..., :Wo] = dy[n0:n1]
            grid = grid.reshape(n, F, Ho * width)
        dcols = xp.matmul(WrT, grid).reshape(n, C, KH * KW, Ho, width)
        phases = _scratch(xp, "dx_phases", (s, s, n, C, (hq + 1) * wq), dy.dtype, zero=True)  # a row to spare
        for i in range(KH):
            for j in range(KW):
                start = i // s * wq + j // s
                window = phases[i % s, j % s, :, :, start:start + Ho * wq].reshape(n, C, Ho, wq)
                window[..., :width] += dcols[:, :, i * KW + j]
        merged = _phase_merge(xp, phases[..., :hq * wq].reshape(s, s, n, C, hq, wq))
        dx[n0:n1] = merged[:, :, p:p + H, p:p + Wd]
        return dWb
    dWb = _total(parallel.shares(xp, N, cols.nbytes, share))
    return dx, {"W": xp.ascontiguousarray(dWb[:, :K]).reshape(F, C, KH, KW), "b": dWb[:, K].copy()}


def _phase_split(xp, a, s):
    """(s, s, N, C, ceil(H/s), ceil(W/s)) array P with P[u, v] = a[:, :, u::s, v::s] (zero-filled
    where that is shorter): at stride s, each kernel offset's window is then a block of one phase,
    read in contiguous runs (_phase_window). At stride 1, a view of a."""
    N, C, H, W = a.shape
    if s == 1:
        return a[None, None]
    hq, wq = -(-H // s), -(-W // s)
    out = xp.zeros((s, s, N, C, hq, wq), dtype=a.dtype)
    for u in range(s):
        for v in range(s):
            part = a[:, :, u::s, v::s]
            out[u, v, :, :, :part.shape[2], :part.shape[3]] = part
    return out


def _phase_window(phases, i, j, s, ho, wo):
    """The (N, C, ho, wo) view of phase-split array `phases` that kernel offset (i, j) meets at
    stride s: rows i, i + s, ..., columns j, j + s, ... of the array that was split."""
    return phases[i % s, j % s, :, :, i // s:i // s + ho, j // s:j // s + wo]


def _phase_merge(xp, phases):
    """The (N, C, s*ceil(H/s), s*ceil(W/s)) array whose phases are `phases` (_phase_split's inverse)."""
    s, _, N, C, hq, wq = phases.shape
    return phases.transpose(2, 3, 4, 0, 5, 1).reshape(N, C, hq * s, wq * s)


def _pad_nchw(xp, x, p):
    """x (N, C, H, W) zero-padded by p on every side, as a C-order copy (x itself when p is 0)."""
    if not p:
        return x
    N, C, H, W = x.shape
    out = xp.zeros((N, C, H + 2 * p, W + 2 * p), dtype=x.dtype)
    out[:, :, p:p + H, p:p + W] = x
    return out


def _col2im_nchw(xp, Wt, dyt, s, p, H, W, Ho, Wo, out=None):
    """dx of Conv2d by col2im, channel-first: per block of samples dcols = W.T @ dy, rows
    (c, i, j) and columns (n, h', w'), one product; each kernel offset's rows are added onto the
    strided windows of the padded (C, n, H, W) block they came from (runs of W' both sides)."""
    F, C, KH, KW = Wt.shape
    N = dyt.shape[0] // (Ho * Wo)
    WrT = Wt.reshape(F, C * KH * KW).T
    dx = xp.empty((N, C, H, W), dtype=dyt.dtype) if out is None else out
    blocks, nb = _blocks(xp, N, C * KH * KW * Ho * Wo * dyt.itemsize)
    buf = _scratch(xp, "dcols", (C * KH * KW, nb * Ho * Wo), dyt.dtype)
    dxpad = _scratch(xp, "dx_padded", (C, nb, H + 2 * p, W + 2 * p), dyt.dtype)
    for n0, n1 in blocks:
        n = n1 - n0
        dcols = xp.matmul(WrT, dyt[n0 * Ho * Wo:n1 * Ho * Wo].T, out=buf[:, :n * Ho * Wo])
        dcols = dcols.reshape(C, KH, KW, n, Ho, Wo)
        block = dxpad[:, :n]
        block.fill(0)
        for i, j, rows, cols in _offsets(KH, KW, s, s, Ho, Wo):
            block[:, :, rows, cols] += dcols[:, i, j]
        dx[n0:n1] = block[:, :, p:p + H, p:p + W].transpose(1, 0, 2, 3)
    return dx


class Im2colConv2d(Conv2d):
    """Conv2d as the textbook vectorised im2col: one copy of a strided view into the patch
    matrix (C*KH*KW, N*H'*W'), one matrix product each for y, dW and dcols, col2im as KH*KW
    strided slice additions. Same results as Conv2d.

    The speed items' yardstick (SPEED_YARDSTICKS, which the grader's worker loads in place of
    Conv2d): it is the kind of code a student writes, so a student's ratio to it measures the
    algorithm and not the machine. Conv2d's cache blocking makes it faster than this code by a
    factor that depends on how busy the memory system is (1.2x on a quiet core, 3-5x with other
    jobs running: README, "Convolution speed"), which would make the speed bands move with the load.
    """

    def forward(self, x, params, *, train=False, rng=None, state=None):
        xp = get_array_module(x)
        Wt, (N, C, H, Wd, F, KH, KW, Ho, Wo), (s, p) = _conv_geometry(self, x, params)
        lay = _Layout(N, C, H, Wd, Ho, Wo, s, p)
        xpad = xp.zeros(lay.padded, dtype=x.dtype)
        xpad[lay.interior] = x.transpose(lay.perm)
        # im2col: one copy of a strided view, rows (c, i, j), columns the output positions.
        cols = xp.ascontiguousarray(lay.windows(xp, xpad, KH, KW)).reshape(C * KH * KW, -1)
        Wm = Wt.reshape(F, C * KH * KW)
        y = xp.empty((N, F, Ho, Wo), dtype=x.dtype)
        b = params["b"].astype(x.dtype, copy=False)
        xp.add(lay.to_nchw(Wm @ cols, F), b[:, None, None], out=y)  # the bias in the same pass
        return y, (cols, Wm, lay, Wt.shape)

    def backward(self, dy, cache):
        xp = get_array_module(dy)
        cols, Wm, lay, wshape = cache
        F, C, KH, KW = wshape
        dyt = xp.ascontiguousarray(dy.transpose(lay.perm)).reshape(F, -1)
        # The longer side of dW (C*KH*KW or F) first: on these products with a very long inner
        # dimension, multithreaded OpenBLAS is often many times slower the other way round.
        dW = (cols @ dyt.T).T if cols.shape[0] >= F else dyt @ cols.T
        dW = xp.ascontiguousarray(dW).reshape(wshape)
        dcols = (Wm.T @ dyt).reshape(C, KH, KW, *lay.grid)
        dxpad = xp.zeros(lay.padded, dtype=dy.dtype)
        for i, j, rows, cols_ in _offsets(KH, KW, lay.s, lay.s, lay.Ho, lay.Wo):  # col2im
            dxpad[lay.at(rows, cols_)] += dcols[:, i, j]
        dx = xp.ascontiguousarray(dxpad[lay.interior].transpose(lay.inverse))
        return dx, {"W": dW, "b": dyt.sum(axis=1)}


class _Layout:
    """Axis order of Conv2d's work arrays: channels first, then (N, H, W) or, for small images,
    (H, W, N), so that im2col and col2im move runs of W' (or W'*N) contiguous elements.

    The padded input is the NCHW input with axes `perm`; the patch matrix has one column per
    output position, in the order of `grid`.
    """

    def __init__(self, N, C, H, W, Ho, Wo, s, p):
        # Below 16 output columns, (H, W, N) was faster on CIFAR-sized layers despite its costlier
        # transposes; at 16 the two tie.
        self.perm = (1, 2, 3, 0) if Wo < 16 else (1, 0, 2, 3)
        self.inverse = tuple(self.perm.index(a) for a in range(4))
        self.s, self.Ho, self.Wo = s, Ho, Wo
        self.padded = tuple((N, C, H + 2 * p, W + 2 * p)[a] for a in self.perm)
        self.interior = self.at(slice(p, p + H), slice(p, p + W))
        self.grid = tuple((N, None, Ho, Wo)[a] for a in self.perm[1:])

    def at(self, rows, cols):
        """Index of the padded array: every sample and channel, these rows and columns."""
        return tuple((slice(None), slice(None), rows, cols)[a] for a in self.perm)

    def windows(self, xp, xpad, KH, KW):
        """Strided view (C, KH, KW, *grid) of xpad: element (c, i, j, g) is the input that kernel
        offset (i, j) of channel c meets at output position g."""
        stride = dict(zip(self.perm, xpad.strides))  # NCHW axis -> stride of xpad
        step = {0: stride[0], 2: stride[2] * self.s, 3: stride[3] * self.s}
        return xp.lib.stride_tricks.as_strided(
            xpad, (xpad.shape[0], KH, KW, *self.grid),
            (stride[1], stride[2], stride[3], *(step[a] for a in self.perm[1:])))

    def to_nchw(self, a, F):
        """(F, prod(grid)) -> (N, F, H', W') view."""
        return a.reshape(F, *self.grid).transpose(self.inverse)


SPEED_YARDSTICKS = {"Conv2d": Im2colConv2d}


def _channels_last(a):
    """True for a 4-d array laid out (N, H, W, C) in memory (what Conv2d returns)."""
    return not a.flags.c_contiguous and a.transpose(0, 2, 3, 1).flags.c_contiguous


class _Work:
    """The axis order in which an NCHW array is C-contiguous (channels-last or not), so that the
    pooling layers read and write memory in order and return their result in the same layout."""

    def __init__(self, x):
        self.perm = (0, 2, 3, 1) if _channels_last(x) else (0, 1, 2, 3)
        self.inverse = tuple(self.perm.index(a) for a in range(4))

    def view(self, a):
        """The NCHW array a with its axes in work order."""
        return a.transpose(self.perm)

    def nchw(self, a):
        return a.transpose(self.inverse)

    def at(self, rows, cols):
        """Index (in work order) of the given rows and columns of every sample and channel."""
        return tuple((slice(None), slice(None), rows, cols)[a] for a in self.perm)

    def shape(self, shape):
        return tuple(shape[a] for a in self.perm)


class _Pool2d(Layer):
    """Shared hyperparameters of the pooling layers: KH x KW windows every `stride` (an int or a
    pair; None, the default, means the kernel size: windows side by side)."""

    def __init__(self, *, kernel_size, stride=None):
        self.kernel_size = _size_hp(kernel_size)
        self.stride = None if stride is None else _size_hp(stride)
        if min(_pair(self.kernel_size)) < 1 or (stride is not None and min(_pair(self.stride)) < 1):
            raise ValueError(f"need kernel_size and stride >= 1, got {self.kernel_size}, {self.stride}")

    def _offsets(self, x):
        kh, kw = _pair(self.kernel_size)
        sh, sw = _pair(self.kernel_size if self.stride is None else self.stride)
        ho, wo = _out_size(x.shape[2], kh, sh), _out_size(x.shape[3], kw, sw)
        return _offsets(kh, kw, sh, sw, ho, wo)

    def _overlap(self):
        """True when windows overlap (stride < kernel along an axis)."""
        k, s = _pair(self.kernel_size), _pair(self.kernel_size if self.stride is None else self.stride)
        return s[0] < k[0] or s[1] < k[1]


class MaxPool2d(_Pool2d):
    """Max over each KH x KW window, per channel.

    Shapes: x (N, C, H, W) -> y (N, C, H', W') with H' = (H - KH) // S + 1 (W' alike).
    dtype: that of x.
    Notes: ties: the whole gradient of a window goes to its FIRST maximum in row-major order
    (smallest row, then smallest column), never split. Windows may overlap (S < K): an input
    element then collects the gradients of every window whose maximum it is. Inputs are assumed
    free of NaN, and dy finite. y (and dx) keep the memory layout of x (and dy): channels-last
    in, channels-last out.
    """

    def forward(self, x, params, *, train=False, rng=None, state=None):
        xp = get_array_module(x)
        work, offsets = _Work(x), self._offsets(x)
        # At evaluation time, which element is each window's maximum is left for a backward pass
        # to find, if one comes (x is cached instead): the maximum alone is a quarter of the work.
        y, arg = _max_scan(xp, work.view(x), work, offsets, train)
        return work.nchw(y), (arg, None if train else x, work, x.shape, offsets, self._overlap())

    def backward(self, dy, cache):
        xp = get_array_module(dy)
        arg, x, work, shape, offsets, overlap = cache
        if arg is None:
            _, arg = _max_scan(xp, work.view(x), work, offsets, True)
        dyw = work.view(dy)
        dx = xp.empty(work.shape(shape), dtype=dy.dtype)

        def share(n0, n1):
            dxs, dys, args = dx[n0:n1], dyw[n0:n1], arg[n0:n1]
            dxs.fill(0)
            for k, (_, _, rows, cols) in enumerate(offsets):
                if overlap:
                    dxs[work.at(rows, cols)] += dys * (args == k)
                else:  # each input element is in one window at most: assign instead of add
                    xp.multiply(dys, args == k, out=dxs[work.at(rows, cols)])
        parallel.shares(xp, dx.shape[0], dx.nbytes, share)
        return work.nchw(dx), {}


def _max_scan(xp, xw, work, offsets, with_arg):
    """(y, arg) of max pooling over the windows at `offsets` of xw (x in work order): y the
    maxima, arg (or None) the index in `offsets` of each window's first maximum."""
    _, _, rows, cols = offsets[0]
    first = xw[work.at(rows, cols)]
    y = xp.empty(first.shape, dtype=xw.dtype)  # C order in work order: the layout of x
    arg = xp.empty(y.shape, dtype=xp.uint8 if len(offsets) <= 256 else xp.int32) if with_arg else None

    def share(n0, n1):  # samples n0..n1-1 (reference/parallel.py)
        ys = y[n0:n1]
        ys[...] = first[n0:n1]
        if arg is not None:
            args = arg[n0:n1]
            args.fill(0)
        for k, (_, _, rows, cols) in enumerate(offsets[1:], start=1):
            window = xw[work.at(rows, cols)][n0:n1]
            if arg is None:
                xp.maximum(ys, window, out=ys)
                continue
            better = window > ys  # strictly: an equal later value never replaces the first maximum
            xp.maximum(ys, window, out=ys)
            # k exceeds every earlier index: the maximum sets arg to k exactly where better.
            # (Arithmetic, not a masked copy: masked copies branch on every element, 20x slower.)
            xp.maximum(args, better * arg.dtype.type(k), out=args)
    parallel.shares(xp, xw.shape[0], xw.nbytes, share)
    return y, arg


class AvgPool2d(_Pool2d):
    """Mean over each KH x KW window, per channel.

    Shapes: x (N, C, H, W) -> y (N, C, H', W') with H' = (H - KH) // S + 1 (W' alike).
    dtype: that of x.
    Notes: every element of a window receives dy / (KH*KW); overlapping windows (S < K) add up.
    y (and dx) keep the memory layout of x (and dy).
    """

    def forward(self, x, params, *, train=False, rng=None, state=None):
        work, offsets = _Work(x), self._offsets(x)
        xw = work.view(x)
        _, _, rows, cols = offsets[0]
        y = xw[work.at(rows, cols)].copy()
        for _, _, rows, cols in offsets[1:]:
            y += xw[work.at(rows, cols)]
        y *= 1.0 / len(offsets)
        return work.nchw(y), (work, x.shape, offsets)

    def backward(self, dy, cache):
        xp = get_array_module(dy)
        work, shape, offsets = cache
        share = work.view(dy) * (1.0 / len(offsets))
        dx = xp.zeros(work.shape(shape), dtype=dy.dtype)
        for _, _, rows, cols in offsets:
            dx[work.at(rows, cols)] += share
        return work.nchw(dx), {}


def _channel_sum(xp, a):
    """Sum of an NCHW array over (N, H, W), per channel; on channels-last memory one
    vector-matrix product (numpy's reduction over the outer axes is several times slower)."""
    t = a.transpose(0, 2, 3, 1)
    if t.flags.c_contiguous:
        t = t.reshape(-1, a.shape[1])
        return xp.ones(t.shape[0], dtype=a.dtype) @ t
    return a.sum(axis=(0, 2, 3))


class BatchNorm2d(BatchNorm1d):
    """Spatial batch normalisation: BatchNorm1d per channel, statistics over (N, H, W).

    Shapes: x (N, C, H, W) -> y (N, C, H, W); gamma, beta (C,); running_mean, running_var (C,).
    dtype: that of x.
    Notes: as BatchNorm1d with m = N*H*W samples per channel: at train time the batch mean and
    biased variance normalise, and the running statistics are replaced in `state` (momentum
    update with the unbiased variance m/(m-1) * var, as PyTorch); at evaluation time the running
    statistics are constants. dx = (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) / sqrt(var + eps)
    with dxhat = gamma * dy, computed as gamma / sqrt(var + eps) * (dy - sum(dy)/m - xhat * sum(dy * xhat)/m).
    y and dx keep the memory layout of x and dy (elementwise operations and per-channel sums only).
    """

    # Each pass over the samples runs in shares (reference/parallel.py); per-channel sums add the
    # shares' partial sums.
    def forward(self, x, params, *, train=False, rng=None, state=None):
        xp = get_array_module(x)
        n = x.shape[0]
        if train:
            m = x.shape[0] * x.shape[2] * x.shape[3]
            if m < 2:
                raise ValueError("BatchNorm2d needs more than one value per channel at train time")
            mean = _total(parallel.shares(xp, n, x.nbytes, lambda a, b: _channel_sum(xp, x[a:b]))) / m
            xhat = xp.empty_like(x, dtype=xp.result_type(x, mean))  # the layout of x

            def center(a, b):
                xc = xp.subtract(x[a:b], mean[:, None, None], out=xhat[a:b])
                return _channel_sum(xp, xc * xc)
            var = _total(parallel.shares(xp, n, x.nbytes, center)) / m
            if state is not None:
                mo, rm, rv = self.momentum, state["running_mean"], state["running_var"]
                state["running_mean"] = ((1 - mo) * rm + mo * mean).astype(rm.dtype, copy=False)
                state["running_var"] = ((1 - mo) * rv + mo * var * (m / (m - 1))).astype(rv.dtype, copy=False)
        else:
            if state is None:
                raise ValueError("BatchNorm2d needs its state (running statistics) at evaluation time")
            return self._evaluate(xp, x, params, state)
        inv_std = 1 / xp.sqrt(var + self.eps)
        gamma = params["gamma"].astype(x.dtype, copy=False)
        beta = params["beta"].astype(x.dtype, copy=False)
        y = xp.empty_like(xhat, dtype=xp.result_type(xhat, inv_std, gamma, beta))

        def normalise(a, b):
            xhat[a:b] *= inv_std[:, None, None]
            xp.multiply(xhat[a:b], gamma[:, None, None], out=y[a:b])
            y[a:b] += beta[:, None, None]
        parallel.shares(xp, n, x.nbytes, normalise)
        return y, (xhat, inv_std, gamma, train)

    def _evaluate(self, xp, x, params, state):
        """y = (x - running_mean) * (gamma / sqrt(running_var + eps)) + beta in three passes; the
        cache holds x, and a backward pass, if one comes, recomputes xhat from it."""
        mean = state["running_mean"].astype(x.dtype, copy=False)
        inv_std = 1 / xp.sqrt(state["running_var"].astype(x.dtype, copy=False) + self.eps)
        gamma = params["gamma"].astype(x.dtype, copy=False)
        beta = params["beta"].astype(x.dtype, copy=False)
        scale = gamma * inv_std
        y = xp.empty_like(x, dtype=xp.result_type(x, mean, scale, beta))

        def normalise(a, b):
            ys = xp.subtract(x[a:b], mean[:, None, None], out=y[a:b])
            ys *= scale[:, None, None]
            ys += beta[:, None, None]
        parallel.shares(xp, x.shape[0], x.nbytes, normalise)
        return y, ((x, mean), inv_std, gamma, False)

    def backward(self, dy, cache):
        xp = get_array_module(dy)
        xhat, inv_std, gamma, train = cache
        if isinstance(xhat, tuple):  # after an evaluation-time forward: (x, running mean)
            x, mean = xhat
            xhat = (x - mean[:, None, None]) * inv_std[:, None, None]
        n = dy.shape[0]
        sums = parallel.shares(xp, n, dy.nbytes, lambda a, b: (_channel_sum(xp, dy[a:b]),
                                                              _channel_sum(xp, dy[a:b] * xhat[a:b])))
        dbeta, dgamma = _total([d for d, _ in sums]), _total([g for _, g in sums])
        scale = (gamma * inv_std)[:, None, None]
        if train:
            m = dy.shape[0] * dy.shape[2] * dy.shape[3]
            dx = xp.empty_like(xhat, dtype=xp.result_type(xhat, dgamma, dy, scale))  # the layout of x
        else:
            dx = xp.empty_like(dy, dtype=xp.result_type(dy, scale))

        def grad(a, b):
            if train:
                d = xp.multiply(xhat[a:b], (-dgamma / m)[:, None, None], out=dx[a:b])
                d += dy[a:b]
                d -= (dbeta / m)[:, None, None]
                d *= scale
            else:
                xp.multiply(dy[a:b], scale, out=dx[a:b])
        parallel.shares(xp, n, dy.nbytes, grad)
        return dx, {"gamma": dgamma, "beta": dbeta}


def _total(parts):
    """The sum of the shares' partial sums, in share order."""
    out = parts[0]
    for p in parts[1:]:
        out = out + p
    return out


LAYERS = {cls.__name__: cls for cls in (Conv2d, MaxPool2d, AvgPool2d, BatchNorm2d)}
REGION_SAFE.update(LAYERS.values())  # not Im2colConv2d: one large product, BLAS's own threads
