"""BatchNorm2d normalises with a hard-coded epsilon of 1e-5, whatever `eps` says."""
# file: conv.py
# affects: cnn.batchnorm2d.train, cnn.batchnorm2d.backward, cnn.batchnorm2d.eval
# clause: bn2d-hyperparameters

_bn2d_init = BatchNorm2d.__init__


def _init(self, *, num_features, eps=1e-5, momentum=0.1):
    _bn2d_init(self, num_features=num_features, eps=1e-5, momentum=momentum)


BatchNorm2d.__init__ = _init
