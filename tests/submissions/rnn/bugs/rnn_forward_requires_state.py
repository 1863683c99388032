"""RNN.forward reads state["h"] without a default: with no initial state it raises KeyError instead of starting from zeros."""
# file: rnn.py
# affects: rnn.rnn.forward, rnn.rnn.backward
# status: error
# clause: rnn-state-zeros

_rnn_forward = RNN.forward


def _forward(self, x, params, *, train=False, rng=None, state=None):
    if state is None or "h" not in state:
        raise KeyError("h")
    return _rnn_forward(self, x, params, train=train, rng=rng, state=state)


RNN.forward = _forward
