"""HingeLoss always uses a margin of 1, whatever `margin` says."""
# file: losses.py
# affects: mlp.loss.hinge
# clause: hinge-margin


def _init(self, *, margin=1.0):
    self.margin = 1.0


HingeLoss.__init__ = _init
