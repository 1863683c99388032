"""The `autoencoder` assignment: upsampling, transposed convolution, two auto-encoders trained without labels."""
import math
from dataclasses import dataclass

import numpy as np

from grader.items import (CNN_LAYERS, MLP_LAYERS, AccuracyItem, Call, CheckResult, Figure, LayerItem, Mutant,
                          WeightsError, as_pair, given, hp, load_cifar10, randn)

ORDER = 4  # the course's week
DATA = ("cifar10",)
# Files from earlier assignments (file here: that assignment's file), see docs/kits.md: released as
# their stubs, the student copies in their own; `dlgrade release A --kit OUT --give-earlier` gives
# the answer key's working code instead.
EARLIER = {"layers.py": "mlp/layers.py", "losses.py": "mlp/losses.py", "optim.py": "mlp/optim.py",
           "init.py": "mlp/init.py", "mlp_model.py": "mlp/model.py", "backend.py": "linear/backend.py",
           "conv.py": "cnn/conv.py"}

K = "solutions/autoencoder/mutants.py:"
UP_LAYERS = ("Upsample2d", "ConvTranspose2d")
AE_LAYERS = CNN_LAYERS + UP_LAYERS
PIXELS = 3 * 32 * 32


# --------------------------------------------------------------------------- case makers
def upsample(rng, spec, dtype):
    """spec: (N, C, H, W, scale_factor); scale_factor None leaves it at its default (2)."""
    n, c, h, w, scale = spec
    return given(scale_factor=hp(scale)), randn(rng, (n, c, h, w), dtype), {}


def upsample_out(kwargs, x):
    sh, sw = as_pair(kwargs.get("scale_factor", 2))
    return (*x.shape[:2], x.shape[2] * sh, x.shape[3] * sw)


def conv_transpose(rng, spec, dtype):
    """spec: (N, C, H, W, F, kernel, stride, padding[, output_padding]); stride, padding or
    output_padding None (or output_padding missing) leaves it at its default (1, 0, 0)."""
    n, c, h, w, f, k, stride, pad, *op = spec
    kh, kw = as_pair(k)
    kwargs = given(in_channels=c, out_channels=f, kernel_size=hp(k), stride=stride, padding=pad,
                   output_padding=op[0] if op else None)
    params = {"W": randn(rng, (c, f, kh, kw), dtype, 1 / np.sqrt(c * kh * kw)), "b": randn(rng, (f,), dtype)}
    return kwargs, randn(rng, (n, c, h, w), dtype), params


def conv_transpose_out(kwargs, x):
    kh, kw = as_pair(kwargs["kernel_size"])
    s, p, op = kwargs.get("stride", 1), kwargs.get("padding", 0), kwargs.get("output_padding", 0)
    return (len(x), kwargs["out_channels"], (x.shape[2] - 1) * s - 2 * p + kh + op,
            (x.shape[3] - 1) * s - 2 * p + kw + op)


UP_CASES = (
    ("scale 2", (2, 3, 4, 5, 2), np.float64),
    ("scale 3, odd sizes, batch of 1", (1, 2, 3, 5, 3), np.float64),
    ("scale given as a pair (2, 3)", (2, 2, 3, 4, (2, 3)), np.float64),
    ("a 1x1 image, scale 4", (3, 2, 1, 1, 4), np.float64),
    ("float32", (2, 3, 4, 4, 2), np.float32),
    ("scale_factor left at its default (2)", (2, 2, 3, 2, None), np.float64),
    ("scale given as a pair (3, 1): rows only", (1, 2, 2, 3, (3, 1)), np.float64),
)
# The corners of ConvTranspose2d's allowed region (kernel KH, KW >= 1, stride S >= 1, padding P >= 0,
# 0 <= OP < S; docs/clauses.md, convt-geometry): P = 0 and P >= 1; P > K - 1 (the crop reaches into
# the kernel copies; a Conv2d of the zero-stuffed input would need a negative padding); S > K (gaps
# between the copies); KH < KW and KH > KW; OP = 0, 1 <= OP <= P and OP > P (bias-only rows and
# columns); every argument but the channels and kernel left at its default. The forward item grades
# output_padding's forward (CONVT_FORWARD_OUTPUT_PADDING); the hidden item grades its backward.
CONVT_CASES = (
    ("3x3, stride 1", (2, 3, 4, 5, 2, 3, 1, 0), np.float64),
    ("4x4, stride 2, padding 1 (doubles the size)", (2, 3, 4, 4, 4, 4, 2, 1), np.float64),
    ("5x5, stride 2, padding 2, odd sizes, batch of 1", (1, 2, 3, 5, 3, 5, 2, 2), np.float64),
    ("2x3 kernel, stride 3, padding 1", (2, 2, 3, 4, 3, (2, 3), 3, 1), np.float64),
    ("1x1 kernel, stride 2 (gaps between the copies)", (2, 4, 3, 2, 2, 1, 2, 0), np.float64),
    ("float32", (2, 3, 5, 5, 4, 4, 2, 1), np.float32),
    ("3x2 kernel, stride, padding and output_padding left at their defaults (1, 0, 0)",
     (2, 2, 3, 4, 3, (3, 2), None, None), np.float64),
    ("2x2 kernel, stride 2, padding 2 (padding > kernel size - 1)", (2, 2, 4, 5, 3, 2, 2, 2), np.float64),
)
CONVT_FORWARD_OUTPUT_PADDING = (  # the forward item only: the hidden item grades output_padding's backward
    ("3x3, stride 2, padding 0, output_padding 1 (> padding: a bias-only row and column)",
     (2, 2, 3, 4, 3, 3, 2, 0, 1), np.float64),
    ("4x4, stride 2, padding 1, output_padding 1 (= padding)", (2, 3, 4, 4, 2, 4, 2, 1, 1), np.float64),
    ("3x2 kernel, stride 3, padding 1, output_padding 2 (> padding), batch of 1",
     (1, 2, 3, 3, 2, (3, 2), 3, 1, 2), np.float64),
    ("5x5, stride 3, padding 2, output_padding 1 (< padding)", (2, 2, 3, 2, 3, 5, 3, 2, 1), np.float64),
)
OUTPUT_PADDING_CASES = (  # stride >= 2; output_padding below, equal to and above padding
    ("3x3, stride 2, padding 1, output_padding 1", (2, 2, 4, 5, 3, 3, 2, 1, 1), np.float64),
    ("2x3 kernel, stride 3, padding 2, output_padding 2, batch of 1", (1, 2, 3, 3, 3, (2, 3), 3, 2, 2), np.float64),
    ("float32, 4x4, stride 2, padding 1, output_padding 1", (2, 3, 4, 4, 2, 4, 2, 1, 1), np.float32),
    ("3x3, stride 2, padding 0, output_padding 1 (> padding: a bias-only row and column)",
     (2, 3, 4, 3, 2, 3, 2, 0, 1), np.float64),
    ("3x2 kernel, stride 3, padding 1, output_padding 2 (> padding)", (2, 2, 3, 4, 3, (3, 2), 3, 1, 2), np.float64),
    ("5x5, stride 3, padding 2, output_padding 1 (< padding)", (1, 2, 3, 4, 2, 5, 3, 2, 1), np.float64),
)

UP_MUTANTS = (
    Mutant("dx takes one entry of each block of dy (a strided slice): the pixel was copied into every entry "
           "of its block, so dx is the SUM of dy over the block", {"Upsample2d": K + "UpsampleBackwardTopLeft"}),
    Mutant("dx averages dy over each block: every copy passes its whole gradient back, so sum the block "
           "(do not divide by SH * SW)", {"Upsample2d": K + "UpsampleBackwardMean"}),
)
CONVT_FORWARD_MUTANTS = (
    Mutant("the kernel is flipped: input pixel (i, j) adds x[n, c, i, j] * W[c, f, u, v] at output "
           "(i * stride - padding + u, j * stride - padding + v); written as a Conv2d of the zero-stuffed "
           "input, the kernel must be flipped (W[:, :, ::-1, ::-1]) and its two channel axes swapped",
           {"ConvTranspose2d": K + "ConvTransposeFlippedKernel"}),
)
CONVT_BACKWARD_MUTANTS = (
    Mutant("dx uses the kernel flipped: the gradient reads dy where the forward wrote, at (i * stride - "
           "padding + u, j * stride - padding + v), with the same W[c, f, u, v]: a transposed convolution's "
           "backward is a plain strided Conv2d of dy with W (no flip)",
           {"ConvTranspose2d": K + "ConvTransposeBackwardFlippedKernel"}),
)


def pair_items(key, name, make, shapes, out_shape, fwd, bwd, forward_mutants=(), backward_mutants=(),
               forward_only=(), **kwargs):
    """The forward and backward items of a layer; `forward_only`: cases of the forward item alone."""
    common = dict(name=name, module="autoencoder", make=make, out_shape=out_shape, **kwargs)
    return [LayerItem(f"autoencoder.{key}.forward", fwd, part="forward", mutants=forward_mutants,
                      shapes=shapes + forward_only, **common),
            LayerItem(f"autoencoder.{key}.backward", bwd, part="backward", mutants=backward_mutants, shapes=shapes,
                      **common)]


# --------------------------------------------------------------------------- trained auto-encoders
MAX_ACTIVATION = 32 * PIXELS  # values per image any layer may output (the grader evaluates in batches)
SAME_SHAPE = {"Sigmoid", "Tanh", "ReLU", "LeakyReLU", "ELU", "Softplus", "Softmax", "LogSoftmax", "Dropout"}


def _int(layer, i, key, default=None, low=0):
    value = layer.get(key, default)
    if value is None or not float(value).is_integer() or value < low:
        raise WeightsError(f"layer {i} ({layer['type']}): {key} must be an integer >= {low}, got {value!r}")
    return int(value)


def layer_sizes(arch, image=(3, 32, 32)):
    """(the model's per-image output shape, [values per image after each layer]) for one image of
    shape `image`, from the architecture alone (nothing is run); WeightsError for layers whose
    hyperparameters do not fit their input."""
    shape, sizes = tuple(image), []
    for i, layer in enumerate(arch):
        t = layer["type"]

        def fits(ok, what):
            if not ok:
                raise WeightsError(f"layer {i} ({t}): {what}, but its input has shape {shape} per image")
        if t == "Flatten":
            shape = (math.prod(shape),)
        elif t == "Linear":
            fits(len(shape) == 1 and _int(layer, i, "in_features") == shape[0], f"in_features={layer.get('in_features')}")
            shape = (_int(layer, i, "out_features", low=1),)
        elif t in SAME_SHAPE:
            pass
        elif t in ("BatchNorm1d", "BatchNorm2d"):
            fits(len(shape) == (1 if t == "BatchNorm1d" else 3) and _int(layer, i, "num_features") == shape[0],
                 f"num_features={layer.get('num_features')}")
        elif t in ("Conv2d", "ConvTranspose2d"):
            fits(len(shape) == 3 and _int(layer, i, "in_channels") == shape[0], f"in_channels={layer.get('in_channels')}")
            k, s = _int(layer, i, "kernel_size", low=1), _int(layer, i, "stride", 1, low=1)
            p = _int(layer, i, "padding", 0)
            if t == "Conv2d":
                h, w = ((n + 2 * p - k) // s + 1 for n in shape[1:])
            else:
                op = _int(layer, i, "output_padding", 0)
                fits(op < s, f"output_padding={op} must be smaller than stride={s}")
                h, w = ((n - 1) * s - 2 * p + k + op for n in shape[1:])
            fits(h >= 1 and w >= 1, f"kernel {k}, stride {s}, padding {p} give an empty output")
            shape = (_int(layer, i, "out_channels", low=1), h, w)
        elif t in ("MaxPool2d", "AvgPool2d"):
            k = _int(layer, i, "kernel_size", low=1)
            s = _int(layer, i, "stride", k, low=1) if layer.get("stride") is not None else k
            fits(len(shape) == 3 and min(shape[1:]) >= k, f"kernel_size={k}")
            shape = (shape[0], *((n - k) // s + 1 for n in shape[1:]))
        elif t == "Upsample2d":
            fits(len(shape) == 3, "it needs images")
            s = _int(layer, i, "scale_factor", 2, low=1)
            shape = (shape[0], shape[1] * s, shape[2] * s)
        else:
            raise WeightsError(f"layer {i}: {t} cannot be graded here")
        size = math.prod(shape)
        if size > MAX_ACTIVATION:
            raise WeightsError(f"layer {i} ({t}) outputs {size} values per image, more than {MAX_ACTIVATION}")
        sizes.append(size)
    return shape, sizes


@dataclass(frozen=True)
class ReconstructionItem(AccuracyItem):
    """Held-out reconstruction error of a trained auto-encoder, with linear partial credit.

    The mean squared error per pixel value (pixels in [0, 1]) between the first `images`
    CIFAR-10 test images and the model's outputs, evaluated in the trusted parent with the
    reference layers from the submitted weights: full credit at <= `target`, none at >= `floor`
    (about the error of predicting the mean training image for every image), linear in between.
    The model must pass each image through a code of at most `code` values (the output of its
    narrowest layer): without a bottleneck, copying the input would be perfect. The feedback shows
    `shown` test images above their reconstructions.
    """
    images: int = 1000
    code: int = 256
    shown: int = 8
    batch: int = 200  # images per forward pass
    what: str = "auto-encoder"

    def check_arch(self, arch):
        super().check_arch(arch)
        shape, sizes = layer_sizes(arch)
        if math.prod(shape) != PIXELS:
            raise WeightsError(f"{self.weights}: the model outputs {math.prod(shape)} values per image {shape}, "
                               f"expected {PIXELS} (a 3 x 32 x 32 image, or its {PIXELS} values flattened)")
        if min(sizes) > self.code:
            raise WeightsError(f"{self.weights}: the narrowest layer outputs {min(sizes)} values per image; an "
                               f"auto-encoder must pass each image through a code of at most {self.code} values "
                               "(without a bottleneck, copying the input is no achievement)")

    def test_set(self, *, download: bool = True):
        x, _ = load_cifar10("test", download=download)
        return (x[:self.images].astype(np.float32) * np.float32(1 / 255),)

    def calls_for(self, arch, weights, meta, data):
        import json
        spec = {"arch": json.dumps(arch), "modules": list(self.modules), "keep": self.shown, "batch_size": self.batch}
        return [Call("squared_error", spec, {"weights": weights, "x": data[0]})]

    def evaluate_outputs(self, outputs, meta, data):
        x = data[0]
        out = outputs[0] or {}
        sse, head = out.get("sse"), out.get("head")
        if sse is None:
            shape = tuple(int(v) for v in np.ravel(out.get("shape", [-1])))
            raise WeightsError(f"the model's output has shape {shape} for a batch of {min(self.batch, len(x))} images; "
                               f"expected {PIXELS} values per image")
        sse = np.asarray(sse, dtype=np.float64)
        if sse.shape != (len(x),) or not np.isfinite(sse).all():
            raise WeightsError("the model's outputs are not finite" if sse.shape == (len(x),)
                               else f"expected one error per image, got shape {sse.shape}")
        err = float(sse.sum() / x.size)
        credit = float(np.clip((self.floor - err) / (self.floor - self.target), 0.0, 1.0))
        msg = (f"reconstruction error {err:.5f} (mean squared error per pixel value, pixels in [0, 1]; PSNR "
               f"{10 * np.log10(1 / max(err, 1e-12)):.2f} dB) on the first {len(x)} CIFAR-10 test images "
               f"(full credit at <= {self.target:g}, none at >= {self.floor:g}, about the error of predicting "
               f"the mean training image)")
        figures = ()
        head = None if head is None else np.asarray(head, dtype=np.float32)
        k = min(self.shown, len(x))
        if head is not None and head.size == k * PIXELS and np.isfinite(head).all():
            recon = head.reshape(k, 3, 32, 32)
            figures = (Figure(f"{self.id}.png", f"{k} CIFAR-10 test images (top) and their reconstructions by your "
                              f"{self.what} (bottom)", _drawer(x[:k], recon, f"{self.what}, error {err:.4f}"),
                              size=(1.1 * k, 2.6)),)
        return [CheckResult("held-out reconstruction error", credit >= 1.0, msg, credit=credit, figures=figures)]


def _drawer(originals, recon, title):
    def draw(fig):
        k = len(originals)
        axes = fig.subplots(2, k, squeeze=False)
        for row, (label, imgs) in enumerate((("test images", originals), ("reconstructions", recon))):
            for c in range(k):
                ax = axes[row, c]
                ax.imshow(np.clip(imgs[c].transpose(1, 2, 0), 0, 1), interpolation="nearest")
                ax.set_xticks([])
                ax.set_yticks([])
            axes[row, 0].set_ylabel(label, fontsize=8)
        fig.suptitle(title, fontsize=9)
    return draw


# --------------------------------------------------------------------------- the items
ITEMS = [
    *pair_items("upsample", "Upsample2d", upsample, UP_CASES, upsample_out, 6, 8, backward_mutants=UP_MUTANTS),
    *pair_items("conv_transpose", "ConvTranspose2d", conv_transpose, CONVT_CASES, conv_transpose_out, 16, 24,
                forward_mutants=CONVT_FORWARD_MUTANTS, backward_mutants=CONVT_BACKWARD_MUTANTS,
                forward_only=CONVT_FORWARD_OUTPUT_PADDING),
    LayerItem("autoencoder.conv_transpose.output_padding", 8, visibility="hidden", part="backward",
              name="ConvTranspose2d", module="autoencoder", make=conv_transpose, shapes=OUTPUT_PADDING_CASES,
              out_shape=conv_transpose_out, mutants=CONVT_BACKWARD_MUTANTS),
    ReconstructionItem("autoencoder.fc.reconstruction", 18, weights="fc_ae_weights.npz", floor=0.060, target=0.0035,
                       modules=("autoencoder", "conv", "layers"), timeout=120, layers=MLP_LAYERS,
                       what="fully connected auto-encoder"),
    ReconstructionItem("autoencoder.conv.reconstruction", 20, weights="conv_ae_weights.npz", floor=0.060,
                       target=0.0035, modules=("autoencoder", "conv", "layers"), timeout=120, layers=AE_LAYERS,
                       what="convolutional auto-encoder"),
]
