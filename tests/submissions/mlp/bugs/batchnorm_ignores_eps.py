"""BatchNorm1d normalises with a hard-coded epsilon of 1e-5, whatever `eps` says."""
# file: layers.py
# affects: mlp.batchnorm.train, mlp.batchnorm.backward, mlp.batchnorm.eval
# clause: bn-eps

_bn_init = BatchNorm1d.__init__


def _init(self, *, num_features, eps=1e-5, momentum=0.1):
    _bn_init(self, num_features=num_features, momentum=momentum)


BatchNorm1d.__init__ = _init
