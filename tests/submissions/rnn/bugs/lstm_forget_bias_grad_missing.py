"""LSTM leaves the forget gate's slice of db at zero (in the step and in BPTT)."""
# file: rnn.py
# affects: rnn.lstm.step.backward, rnn.lstm.backward

_lstm_step_backward, _lstm_backward = LSTM.step_backward, LSTM.backward


def _no_forget_bias(self, grads):
    grads["b"] = grads["b"].copy()
    grads["b"][self.hidden_size:2 * self.hidden_size] = 0
    return grads


def _step_backward(self, dh_next, cache):
    dx, dh, grads = _lstm_step_backward(self, dh_next, cache)
    return dx, dh, _no_forget_bias(self, grads)


def _backward(self, dhs, cache):
    dx, grads = _lstm_backward(self, dhs, cache)
    return dx, _no_forget_bias(self, grads)


LSTM.step_backward = _step_backward
LSTM.backward = _backward
