"""keep_probability's threshold t defaults to 1e-5, not the contract's 1e-3."""
# file: word2vec.py
# affects: rnn.word2vec.keep_probability
# clause: subsampling-default-t

_keep_probability = keep_probability


def keep_probability(counts, t=1e-5):
    return _keep_probability(counts, t=t)
