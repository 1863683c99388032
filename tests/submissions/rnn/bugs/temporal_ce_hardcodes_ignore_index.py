"""TemporalCrossEntropyLoss masks the targets equal to -1, whatever `ignore_index` says."""
# file: rnn.py
# affects: rnn.loss.temporal_cross_entropy
# clause: temporal-ce-ignore-index

_tce_init = TemporalCrossEntropyLoss.__init__


def _init(self, *, ignore_index=-1):
    _tce_init(self)


TemporalCrossEntropyLoss.__init__ = _init
