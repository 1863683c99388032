"""The gates' sigmoid is exp(a) / (1 + exp(a)): inf / inf = NaN once a pre-activation exceeds 709."""
# file: rnn.py
# affects: rnn.lstm.step.forward, rnn.lstm.step.backward, rnn.lstm.forward, rnn.lstm.backward, rnn.gru.step.forward, rnn.gru.step.backward, rnn.gru.forward, rnn.gru.backward
# clause: rnn-large-preactivation


def sigmoid(x):
    e = np.exp(x)
    return e / (1 + e)
