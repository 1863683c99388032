"""Known bugs of the `autoencoder` assignment, as small variants of the reference: when a
student's output matches one, the feedback names the bug. Instructor-only (never released)."""
from reference.autoencoder import ConvTranspose2d, Upsample2d
from reference.conv import _pair


class UpsampleBackwardTopLeft(Upsample2d):
    """dx is the top-left entry of each block of dy instead of the block's sum."""

    def backward(self, dy, cache):
        sh, sw = _pair(self.scale_factor)
        return dy[:, :, ::sh, ::sw].copy(), {}


class UpsampleBackwardMean(Upsample2d):
    """dx is the mean of each block of dy instead of its sum."""

    def backward(self, dy, cache):
        sh, sw = _pair(self.scale_factor)
        dx, grads = super().backward(dy, cache)
        return dx / (sh * sw), grads


class ConvTransposeFlippedKernel(ConvTranspose2d):
    """The forward uses the kernel flipped in both spatial axes (a Conv2d of the zero-stuffed input
    without the flip); backward is consistent with that forward for x (its cache holds the
    flipped kernel), so dx matches what such code returns."""

    def forward(self, x, params, *, train=False, rng=None, state=None):
        return super().forward(x, {**params, "W": params["W"][:, :, ::-1, ::-1]})


class ConvTransposeBackwardFlippedKernel(ConvTranspose2d):
    """A correct forward; backward computes dx with the kernel flipped (dW and db are right)."""

    def backward(self, dy, cache):
        x2, W, shape = cache
        dx, _ = super().backward(dy, (x2, W[:, :, ::-1, ::-1], shape))
        _, grads = super().backward(dy, cache)
        return dx, grads
