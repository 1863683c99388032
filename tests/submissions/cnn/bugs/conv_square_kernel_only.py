"""Conv2d uses kernel_size[0] for both sides when kernel_size is a pair: a (2, 3) kernel is taken as 2x2."""
# file: conv.py
# affects: cnn.conv.forward, cnn.conv.backward
# clause: conv-kernel-pair

_conv_init = Conv2d.__init__


def _init(self, *, in_channels, out_channels, kernel_size, stride=1, padding=0):
    _conv_init(self, in_channels=in_channels, out_channels=out_channels, kernel_size=kernel_size,
               stride=stride, padding=padding)
    if isinstance(kernel_size, (tuple, list)):
        self.kernel_size = (kernel_size[0], kernel_size[0])


Conv2d.__init__ = _init
