"""LeakyReLU's negative_slope defaults to 0.2, not the contract's 0.01."""
# file: layers.py
# affects: mlp.leaky_relu.forward, mlp.leaky_relu.backward
# clause: layer-defaults


def _init(self, *, negative_slope=0.2):
    self.negative_slope = negative_slope


LeakyReLU.__init__ = _init
