"""ConvTranspose2d.backward computes dx with the kernel flipped, as Conv2d's dx does (a full
correlation with the flipped kernel); for the transposed convolution dx is a plain strided
correlation of dy with W. dW and db are right."""
# file: autoencoder.py
# affects: autoencoder.conv_transpose.backward, autoencoder.conv_transpose.output_padding
# clause: convt

_convt_backward = ConvTranspose2d.backward


def _backward(self, dy, cache):
    x2, W, shape = cache
    dx, _ = _convt_backward(self, dy, (x2, W[:, :, ::-1, ::-1], shape))
    _, grads = _convt_backward(self, dy, cache)
    return dx, grads


ConvTranspose2d.backward = _backward
