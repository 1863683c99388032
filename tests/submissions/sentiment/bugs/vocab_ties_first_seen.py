"""build_vocab breaks ties between words of equal count by first occurrence, not alphabetically."""
# file: reviews.py
# affects: sentiment.text.vocab
# clause: sentiment-vocab-order


def build_vocab(token_lists, *, max_size):
    counts = Counter(word for tokens in token_lists for word in tokens if word not in (PAD, UNK))
    return [PAD, UNK] + [word for word, _ in counts.most_common()][:max(0, max_size - 2)]
