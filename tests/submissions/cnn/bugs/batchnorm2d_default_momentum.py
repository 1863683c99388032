"""BatchNorm2d's momentum defaults to 0.9 (the weight of the old running statistics in Keras's
convention) instead of PyTorch's 0.1, the weight of the new batch statistics."""
# file: conv.py
# affects: cnn.batchnorm2d.train
# clause: bn2d-hyperparameters

_bn2d_init = BatchNorm2d.__init__


def _init(self, *, num_features, eps=1e-5, momentum=0.9):
    _bn2d_init(self, num_features=num_features, eps=eps, momentum=momentum)


BatchNorm2d.__init__ = _init
