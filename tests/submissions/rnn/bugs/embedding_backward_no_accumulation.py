"""Embedding.backward writes dW[idx] = dy, so repeated indices keep only one gradient."""
# file: rnn.py
# affects: rnn.embedding.backward


def _backward(self, dy, cache):
    idx, (V, D) = cache
    dW = np.zeros((V, D), dtype=dy.dtype)
    dW[idx.reshape(-1)] = dy.reshape(-1, D)
    return None, {"W": dW}


Embedding.backward = _backward
