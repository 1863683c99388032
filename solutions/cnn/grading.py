"""The `cnn` assignment: convolution, pooling, spatial batch norm, conv speed, a trained CNN."""
from dataclasses import dataclass

import numpy as np

from grader.items import (CNN_LAYERS, AccuracyItem, BatchNormItem, LayerItem, Mutant, SpeedItem, as_pair, given, hp,
                          randn)

ORDER = 3  # the course's week
DATA = ("cifar10",)
# Files from earlier assignments (file here: that assignment's file), see docs/kits.md: released as
# their stubs, the student copies in their own; `dlgrade release A --kit OUT --give-earlier` gives
# the answer key's working code instead.
EARLIER = {"layers.py": "mlp/layers.py", "losses.py": "mlp/losses.py", "optim.py": "mlp/optim.py",
           "init.py": "mlp/init.py", "mlp_model.py": "mlp/model.py", "backend.py": "linear/backend.py"}

M = "solutions/cnn/mutants.py:"


def _out(size, k, stride, pad=0):
    return (size + 2 * pad - k) // stride + 1


# --------------------------------------------------------------------------- case makers
def conv(rng, spec, dtype):
    """spec: (N, C, H, W, F, kernel, stride, padding); stride or padding None leaves it at its
    default (1 and 0)."""
    n, c, h, w, f, k, stride, pad = spec
    kh, kw = as_pair(k)
    kwargs = given(in_channels=c, out_channels=f, kernel_size=hp(k), stride=stride, padding=pad)
    params = {"W": randn(rng, (f, c, kh, kw), dtype, 1 / np.sqrt(c * kh * kw)), "b": randn(rng, (f,), dtype)}
    return kwargs, randn(rng, (n, c, h, w), dtype), params


def conv_out(kwargs, x):
    kh, kw = as_pair(kwargs["kernel_size"])
    s, p = kwargs.get("stride", 1), kwargs.get("padding", 0)
    return (len(x), kwargs["out_channels"], _out(x.shape[2], kh, s, p), _out(x.shape[3], kw, s, p))


def pool(rng, spec, dtype):
    """spec: (N, C, H, W, kernel, stride[, "ties"]); kernel an int or a pair; stride None leaves
    it at its default; tie cases use small integers, and the first window of every sample and
    channel holds its maximum twice (a tie by construction, whatever the seed)."""
    n, c, h, w, k, stride, *ties = spec
    if ties:
        x = rng.integers(0, 3, (n, c, h, w))
        x[:, :, 0, 0] = x[:, :, 1, 0] = 3  # both in the first window (a kernel of at least 2 rows)
        x = x.astype(dtype)
    else:  # distinct values: no ties, so finite differences are valid
        x = (rng.permutation(n * c * h * w).reshape(n, c, h, w) * 0.1 + rng.random((n, c, h, w)) * 0.01)
        x = x.astype(dtype)
    return given(kernel_size=hp(k), stride=stride), x, {}


def pool_out(kwargs, x):
    kh, kw = as_pair(kwargs["kernel_size"])
    sh, sw = as_pair(kwargs.get("stride") or kwargs["kernel_size"])
    return (*x.shape[:2], _out(x.shape[2], kh, sh), _out(x.shape[3], kw, sw))


CONV_CASES = (
    ("3x3, padding 1", (2, 3, 5, 5, 4, 3, 1, 1), np.float64),
    ("5x5, stride 2, padding 2, rectangular input", (2, 2, 7, 6, 3, 5, 2, 2), np.float64),
    ("1x1 kernel, batch of 1", (1, 4, 4, 4, 2, 1, 1, 0), np.float64),
    ("3x3, stride 3, odd sizes", (3, 2, 9, 7, 2, 3, 3, 0), np.float64),
    ("2x3 kernel, stride 2, padding 1", (2, 3, 6, 7, 2, (2, 3), 2, 1), np.float64),
    ("float32", (2, 3, 8, 8, 4, 3, 1, 1), np.float32),
    # the corners of the allowed region (docs/clauses.md, conv-geometry)
    ("3x3, stride and padding left at their defaults (1 and 0)", (2, 3, 5, 6, 2, 3, None, None), np.float64),
    ("3x2 kernel, stride 1, padding 3 (padding >= kernel size: a bias-only border)",
     (2, 2, 4, 5, 3, (3, 2), 1, 3), np.float64),
    ("2x2 kernel, stride 3 (stride > kernel: pixels no window reads), a row and 2 columns left over",
     (2, 2, 6, 7, 3, 2, 3, 0), np.float64),
    ("3x3, stride 3, padding 1 (the last input row and column reach no window), batch of 1",
     (1, 2, 9, 6, 2, 3, 3, 1), np.float64),
)
POOL_CASES = (
    ("2x2, stride 2", (2, 3, 6, 6, 2, 2), np.float64),
    ("overlapping 3x3, stride 1", (2, 2, 5, 5, 3, 1), np.float64),
    ("overlapping 3x3, stride 2, odd sizes, batch of 1", (1, 2, 7, 9, 3, 2), np.float64),
    ("2x2, stride left at its default (= kernel_size)", (2, 2, 6, 4, 2, None), np.float64),
    ("2x3 kernel given as a pair, default stride", (2, 2, 6, 9, (2, 3), None), np.float64),
    ("3x2 kernel given as a pair, stride 1 (overlapping)", (1, 2, 5, 5, (3, 2), 1), np.float64),
    ("float32", (2, 2, 4, 4, 2, 2), np.float32),
    # the corners of the allowed region (docs/clauses.md, pool-geometry)
    ("2x2, stride 3 (stride > kernel: pixels no window reads)", (2, 2, 8, 7, 2, 3), np.float64),
    ("3x3, stride left at its default, odd sizes (rows and columns left over)", (2, 2, 7, 8, 3, None), np.float64),
    ("2x1 kernel given as a pair, stride 2 (> 1 across), a column left over", (1, 2, 6, 6, (2, 1), 2), np.float64),
)
TIE_TAG = "ties (integer inputs), overlapping 2x2 stride 1"
TIES = ((TIE_TAG, (2, 2, 5, 5, 2, 1, "ties"), np.float64),)
BN2D_CASES = (("random", (4, 3, 5, 5), np.float64), ("odd sizes, batch of 1", (1, 2, 3, 5), np.float64),
              ("float32", (3, 4, 4, 4), np.float32))


BN_EPS = 0.1  # the eps of the "random" family: a hard-coded 1e-5 is off by several percent there


@dataclass(frozen=True)
class BatchNorm2dVariants(BatchNormItem):
    """BatchNorm2d with every hyperparameter value exercised: the "random" family (its float32 copy
    and gradient check included) runs with eps=BN_EPS; the "float32" family leaves momentum at its
    default (0.1; the other families pass momentum=0.2)."""

    def calls(self, rng):
        calls = super().calls(rng)
        for c in calls:
            tag = calls[c.spec["case"]].spec["tag"] if "case" in c.spec else c.spec.get("tag", "")
            if tag.startswith("random"):
                c.spec["kwargs"] = {**c.spec["kwargs"], "eps": BN_EPS}
                if "tag" in c.spec:
                    c.spec["tag"] = c.spec["tag"].replace("random", f"random, eps={BN_EPS:g}", 1)
            elif tag == "float32":
                c.spec["kwargs"] = {k: v for k, v in c.spec["kwargs"].items() if k != "momentum"}
                c.spec["tag"] = "float32, momentum left at its default (0.1)"
        return calls


def pair_items(key, name, make, shapes, out_shape, fwd, bwd, **kwargs):
    common = dict(name=name, module="conv", make=make, shapes=shapes, out_shape=out_shape, **kwargs)
    return [LayerItem(f"cnn.{key}.forward", fwd, part="forward", **common),
            LayerItem(f"cnn.{key}.backward", bwd, part="backward", **common)]


# Speed items are hidden: they time against the reference, which students do not have.
SPEED = dict(name="Conv2d", module="conv", make=conv, out_shape=conv_out, timeout=90,
             shape=(16, 16, 32, 32, 16, 3, 1, 1), probe_shape=(2, 4, 8, 8, 4, 3, 1, 1),
             full_at=2.5, zero_at=10.0)  # figures: docs/items.md, "Convolution speed"

ITEMS = [
    *pair_items("conv", "Conv2d", conv, CONV_CASES, conv_out, 10, 15),
    *pair_items("maxpool", "MaxPool2d", pool, POOL_CASES + TIES, pool_out, 6, 8, no_gradcheck=(TIE_TAG,),
                mutants=(Mutant("ties: the whole gradient of a window goes to its FIRST maximum (row-major), "
                                "not the last one", {"MaxPool2d": M + "MaxPoolLastMax"}),
                         Mutant("ties: the whole gradient of a window goes to its FIRST maximum (row-major), "
                                "not to every tied maximum", {"MaxPool2d": M + "MaxPoolAllMaxima"}))),
    *pair_items("avgpool", "AvgPool2d", pool, POOL_CASES, pool_out, 4, 5),
    BatchNorm2dVariants("cnn.batchnorm2d.train", 5, part="train", name="BatchNorm2d", module="conv", shapes=BN2D_CASES[::2]),
    BatchNorm2dVariants("cnn.batchnorm2d.backward", 7, part="backward", name="BatchNorm2d", module="conv",
                  shapes=BN2D_CASES[::2]),
    BatchNorm2dVariants("cnn.batchnorm2d.eval", 4, visibility="hidden", part="eval", name="BatchNorm2d", module="conv",
                  shapes=BN2D_CASES[::2]),
    SpeedItem("cnn.conv.speed.forward", 8, visibility="hidden", part="forward", **SPEED),
    SpeedItem("cnn.conv.speed.backward", 8, visibility="hidden", part="backward", **SPEED),
    AccuracyItem("cnn.train.accuracy", 20, weights="cnn_weights.npz", floor=0.60, target=0.75,
                 modules=("conv", "layers"), timeout=300, layers=CNN_LAYERS),
]
