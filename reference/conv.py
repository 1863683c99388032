"""Reference layers for the `cnn` curriculum: convolution, pooling and spatial batch norm.

Same contract as reference/layers.py (docs/contracts.md): keyword-only hyperparameters,
`forward(x, params, *, train, rng, state) -> (y, cache)`, `backward(dy, cache) -> (dx, grads)`,
outputs and gradients in the dtype of `x`, inputs never modified. Images are NCHW.

Conv2d is the speed yardstick for students, so it is written for speed (see benchmarks/conv.py):
the forward and dW are one matrix product each on an im2col patch matrix built by one copy of a
strided view, and dx is one matrix product followed by col2im as KH*KW strided slice additions.
Everything stays in the dtype of `x`; the same code runs on NumPy and CuPy.
"""
from .backend import get_array_module
from .init import he_normal
from .layers import BatchNorm1d, Layer


def _pair(v):
    """(a, b) from an int or a pair."""
    a, b = (v, v) if isinstance(v, int) else tuple(v)
    return int(a), int(b)


def _size_hp(v):
    """A kernel size as given, made JSON-able: an int stays an int, a pair becomes a tuple of ints."""
    return int(v) if isinstance(v, int) else _pair(v)


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
    Notes: zero padding P on every side, the same stride S along both axes. With the patch
    matrix cols (C*KH*KW, N*H'*W') (im2col): y = W @ cols + b, dW = dy @ cols.T,
    dcols = W.T @ dy, and dx adds each kernel offset's rows of dcols back where they came from.
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
        N, C, H, Wd = x.shape
        Wt = params["W"].astype(x.dtype, copy=False)
        F, Cw, KH, KW = Wt.shape
        if C != Cw:
            raise ValueError(f"x has {C} channels, W expects {Cw}")
        s, p = self.stride, self.padding
        Ho, Wo = _out_size(H, KH, s, p), _out_size(Wd, KW, s, p)
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


class MaxPool2d(_Pool2d):
    """Max over each KH x KW window, per channel.

    Shapes: x (N, C, H, W) -> y (N, C, H', W') with H' = (H - KH) // S + 1 (W' alike).
    dtype: that of x.
    Notes: ties: the whole gradient of a window goes to its FIRST maximum in row-major order
    (smallest row, then smallest column), never split. Windows may overlap (S < K): an input
    element then collects the gradients of every window whose maximum it is. Inputs are assumed
    free of NaN (a NaN is never taken for a maximum, except as a window's first element).
    """

    def forward(self, x, params, *, train=False, rng=None, state=None):
        xp = get_array_module(x)
        offsets = self._offsets(x)
        _, _, rows, cols = offsets[0]
        y = x[:, :, rows, cols].copy()
        arg = xp.zeros(y.shape, dtype=xp.uint8 if len(offsets) <= 256 else xp.int32)
        for k, (_, _, rows, cols) in enumerate(offsets[1:], start=1):
            window = x[:, :, rows, cols]
            better = window > y  # strictly: an equal later value never replaces the first maximum
            xp.copyto(y, window, where=better)
            xp.copyto(arg, k, where=better)
        return y, (arg, x.shape, offsets)

    def backward(self, dy, cache):
        xp = get_array_module(dy)
        arg, shape, offsets = cache
        dx = xp.zeros(shape, dtype=dy.dtype)
        for k, (_, _, rows, cols) in enumerate(offsets):
            dx[:, :, rows, cols] += xp.where(arg == k, dy, 0)
        return dx, {}


class AvgPool2d(_Pool2d):
    """Mean over each KH x KW window, per channel.

    Shapes: x (N, C, H, W) -> y (N, C, H', W') with H' = (H - KH) // S + 1 (W' alike).
    dtype: that of x.
    Notes: every element of a window receives dy / (KH*KW); overlapping windows (S < K) add up.
    """

    def forward(self, x, params, *, train=False, rng=None, state=None):
        xp = get_array_module(x)
        offsets = self._offsets(x)
        _, _, rows, cols = offsets[0]
        y = x[:, :, rows, cols].copy()
        for _, _, rows, cols in offsets[1:]:
            y += x[:, :, rows, cols]
        y *= 1.0 / len(offsets)
        return y, (x.shape, offsets)

    def backward(self, dy, cache):
        xp = get_array_module(dy)
        shape, offsets = cache
        share = dy * (1.0 / len(offsets))
        dx = xp.zeros(shape, dtype=dy.dtype)
        for _, _, rows, cols in offsets:
            dx[:, :, rows, cols] += share
        return dx, {}


class BatchNorm2d(BatchNorm1d):
    """Spatial batch normalisation: BatchNorm1d per channel, statistics over (N, H, W).

    Shapes: x (N, C, H, W) -> y (N, C, H, W); gamma, beta (C,); running_mean, running_var (C,).
    dtype: that of x.
    Notes: as BatchNorm1d with m = N*H*W samples per channel: at train time the batch mean and
    biased variance normalise, and the running statistics are replaced in `state` (momentum
    update with the unbiased variance m/(m-1) * var, as PyTorch); at evaluation time the running
    statistics are constants. dx = (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) / sqrt(var + eps).
    """

    def forward(self, x, params, *, train=False, rng=None, state=None):
        xp = get_array_module(x)
        axes = (0, 2, 3)
        if train:
            m = x.shape[0] * x.shape[2] * x.shape[3]
            if m < 2:
                raise ValueError("BatchNorm2d needs more than one value per channel at train time")
            mean = x.mean(axis=axes)
            xc = x - mean[:, None, None]
            var = (xc * xc).mean(axis=axes)
            if state is not None:
                mo, rm, rv = self.momentum, state["running_mean"], state["running_var"]
                state["running_mean"] = ((1 - mo) * rm + mo * mean).astype(rm.dtype, copy=False)
                state["running_var"] = ((1 - mo) * rv + mo * var * (m / (m - 1))).astype(rv.dtype, copy=False)
        else:
            if state is None:
                raise ValueError("BatchNorm2d needs its state (running statistics) at evaluation time")
            xc = x - state["running_mean"].astype(x.dtype, copy=False)[:, None, None]
            var = state["running_var"].astype(x.dtype, copy=False)
        inv_std = (1 / xp.sqrt(var + self.eps))[:, None, None]
        xhat = xc * inv_std
        gamma = params["gamma"].astype(x.dtype, copy=False)[:, None, None]
        y = gamma * xhat + params["beta"].astype(x.dtype, copy=False)[:, None, None]
        return y, (xhat, inv_std, gamma, train)

    def backward(self, dy, cache):
        xhat, inv_std, gamma, train = cache
        axes = (0, 2, 3)
        dxhat = dy * gamma
        if train:
            dxhat = dxhat - dxhat.mean(axis=axes, keepdims=True) - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True)
        return dxhat * inv_std, {"gamma": (dy * xhat).sum(axis=axes), "beta": dy.sum(axis=axes)}


LAYERS = {cls.__name__: cls for cls in (Conv2d, MaxPool2d, AvgPool2d, BatchNorm2d)}
