"""AdaGrad keeps its default epsilon (1e-10) whatever `eps` says."""
# file: optim.py
# affects: mlp.optim.adagrad
# clause: optimizer-hyperparameters

_adagrad_init = AdaGrad.__init__


def _init(self, *, lr=0.01, eps=1e-10, weight_decay=0.0):
    _adagrad_init(self, lr=lr, weight_decay=weight_decay)


AdaGrad.__init__ = _init
