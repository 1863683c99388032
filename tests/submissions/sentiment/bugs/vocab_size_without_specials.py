"""build_vocab returns max_size words plus <pad> and <unk>: two entries too many."""
# file: reviews.py
# affects: sentiment.text.vocab
# clause: sentiment-vocab-size

_build_vocab = build_vocab


def build_vocab(token_lists, *, max_size):
    return _build_vocab(token_lists, max_size=max_size + 2)
