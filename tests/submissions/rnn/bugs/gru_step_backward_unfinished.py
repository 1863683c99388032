"""GRU.step_backward is not written yet (raises NotImplementedError): the step's forward item still scores in full."""
# file: rnn.py
# affects: rnn.gru.step.backward
# status: not_attempted
# clause: unit-isolation


def _step_backward(self, dh_next, cache):
    raise NotImplementedError


GRU.step_backward = _step_backward
