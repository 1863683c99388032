"""RNN.step computes tanh as (e^a - e^-a) / (e^a + e^-a): inf / inf = NaN once |a| > 710."""
# file: rnn.py
# affects: rnn.rnn.step.forward, rnn.rnn.step.backward
# clause: rnn-large-preactivation


def _step(self, x_t, h, params):
    a = x_t @ params["Wx"] + h @ params["Wh"] + params["b"]
    with np.errstate(over="ignore", invalid="ignore"):
        h_next = (np.exp(a) - np.exp(-a)) / (np.exp(a) + np.exp(-a))
    return h_next, (x_t, h, h_next, params["Wx"], params["Wh"])


RNN.step = _step
