"""RMSProp's alpha defaults to 0.9, not the contract's 0.99."""
# file: optim.py
# affects: mlp.optim.rmsprop
# clause: optimizer-hyperparameters

_rmsprop_init = RMSProp.__init__


def _init(self, *, lr=0.01, alpha=0.9, eps=1e-8, weight_decay=0.0):
    _rmsprop_init(self, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay)


RMSProp.__init__ = _init
