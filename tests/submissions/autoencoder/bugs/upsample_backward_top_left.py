"""Upsample2d.backward takes dy[:, :, ::SH, ::SW], one entry of each block, instead of summing dy
over the block that every pixel was copied into."""
# file: autoencoder.py
# affects: autoencoder.upsample.backward
# clause: upsample


def _backward(self, dy, cache):
    sh, sw = _pair(self.scale_factor)
    return dy[:, :, ::sh, ::sw], {}


Upsample2d.backward = _backward
