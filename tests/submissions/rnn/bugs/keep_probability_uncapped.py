"""keep_probability returns (sqrt(z/t) + 1) * t / z without capping it at 1."""
# file: word2vec.py
# affects: rnn.word2vec.keep_probability


def keep_probability(counts, t=1e-3):
    z = counts / counts.sum()
    return (np.sqrt(z / t) + 1) * t / z
