"""AvgPool2d takes kernel_size[0] for both sides when kernel_size is a pair: (2, 3) pools 2x2 windows."""
# file: conv.py
# affects: cnn.avgpool.forward, cnn.avgpool.backward
# clause: pool-kernel-pair


def _init(self, *, kernel_size, stride=None):
    self.kernel_size = kernel_size[0] if isinstance(kernel_size, (tuple, list)) else kernel_size
    self.stride = stride


AvgPool2d.__init__ = _init
