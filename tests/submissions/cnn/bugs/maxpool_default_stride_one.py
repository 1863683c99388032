"""MaxPool2d built without a stride uses stride 1 instead of the default, stride = kernel_size."""
# file: conv.py
# affects: cnn.maxpool.forward, cnn.maxpool.backward
# clause: pool-default-stride


def _init(self, *, kernel_size, stride=None):
    self.kernel_size = kernel_size
    self.stride = 1 if stride is None else stride


MaxPool2d.__init__ = _init
