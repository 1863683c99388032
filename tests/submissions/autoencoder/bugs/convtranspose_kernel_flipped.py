"""ConvTranspose2d.forward is written as a Conv2d of the zero-stuffed input, but with the kernel
not flipped: every output is computed with W[:, :, ::-1, ::-1]. Backward is the answer key's (it
differentiates the flipped forward for x, but returns dW for the flipped kernel)."""
# file: autoencoder.py
# affects: autoencoder.conv_transpose.forward, autoencoder.conv_transpose.backward, autoencoder.conv_transpose.output_padding
# clause: convt

_convt_forward = ConvTranspose2d.forward


def _forward(self, x, params, *, train=False, rng=None, state=None):
    return _convt_forward(self, x, {**params, "W": params["W"][:, :, ::-1, ::-1]})


ConvTranspose2d.forward = _forward
