"""Upsample2d built without a scale_factor uses 1 (an identity) instead of the default, 2."""
# file: autoencoder.py
# affects: autoencoder.upsample.forward, autoencoder.upsample.backward
# clause: upsample-defaults


def _init(self, *, scale_factor=1):
    self.scale_factor = scale_factor


Upsample2d.__init__ = _init
