"""RNN.step_backward scales dh_next in place (dh_next *= 1 - h_next^2): it writes into its input. Only the step's backward item may lose: the forward item never runs step_backward."""
# file: rnn.py
# affects: rnn.rnn.step.backward
# clause: pure, unit-isolation

_rnn_step_backward = RNN.step_backward


def _step_backward(self, dh_next, cache):
    out = _rnn_step_backward(self, dh_next, cache)
    dh_next += 1.0
    return out


RNN.step_backward = _step_backward
