"""encode truncates the token lists it is given in place (`del tokens[:-max_len]`)."""
# file: reviews.py
# affects: sentiment.text.encode
# clause: sentiment-encode-purity

_encode = encode


def encode(token_lists, vocab, *, max_len):
    for tokens in token_lists:
        del tokens[:-max_len]
    return _encode(token_lists, vocab, max_len=max_len)
