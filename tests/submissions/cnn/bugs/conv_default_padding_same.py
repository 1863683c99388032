"""Conv2d built without a padding pads kernel_size // 2 ("same" padding) instead of the default,
padding=0 (a Conv2d built without a stride still uses stride 1)."""
# file: conv.py
# affects: cnn.conv.forward, cnn.conv.backward
# clause: conv-defaults


def _init(self, *, in_channels, out_channels, kernel_size, stride=1, padding=None):
    self.in_channels = in_channels
    self.out_channels = out_channels
    self.kernel_size = kernel_size
    self.stride = stride
    self.padding = min(_pair(kernel_size)) // 2 if padding is None else padding


Conv2d.__init__ = _init
