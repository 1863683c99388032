"""LSTM.forward replaces state["h"] after the call but leaves state["c"] at its initial value."""
# file: rnn.py
# affects: rnn.lstm.forward
# clause: rnn-state-carried

_lstm_forward = LSTM.forward


def _forward(self, x, params, *, train=False, rng=None, state=None):
    c0 = None if state is None else state.get("c")
    out = _lstm_forward(self, x, params, train=train, rng=rng, state=state)
    if c0 is not None:
        state["c"] = c0
    return out


LSTM.forward = _forward
