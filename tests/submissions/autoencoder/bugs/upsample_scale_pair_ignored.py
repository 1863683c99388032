"""Upsample2d uses the first entry of a (SH, SW) scale factor along both axes: right for an int
scale, a wrong shape for a pair such as (2, 3)."""
# file: autoencoder.py
# affects: autoencoder.upsample.forward, autoencoder.upsample.backward
# clause: upsample-scale-pair


def _square(value):
    s = value[0] if isinstance(value, (tuple, list)) else value
    return s, s


def _forward(self, x, params, *, train=False, rng=None, state=None):
    s, _ = _square(self.scale_factor)
    return x.repeat(s, axis=2).repeat(s, axis=3), (x.shape, s)


def _backward(self, dy, cache):
    (N, C, H, W), s = cache
    return dy.reshape(N, C, H, s, W, s).sum(axis=(3, 5)), {}


Upsample2d.forward = _forward
Upsample2d.backward = _backward
