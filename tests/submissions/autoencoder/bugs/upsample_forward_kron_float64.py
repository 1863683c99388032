"""Upsample2d.forward builds the blocks with np.kron(x, np.ones((1, 1, SH, SW))): the right values,
but np.ones is float64, so a float32 input gives a float64 output."""
# file: autoencoder.py
# affects: autoencoder.upsample.forward
# clause: dtype-rule


def _forward(self, x, params, *, train=False, rng=None, state=None):
    sh, sw = _pair(self.scale_factor)
    return np.kron(x, np.ones((1, 1, sh, sw))), x.shape


Upsample2d.forward = _forward
