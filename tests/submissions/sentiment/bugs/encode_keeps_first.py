"""encode truncates a long review at its end (keeps its first max_len words, not its last)."""
# file: reviews.py
# affects: sentiment.text.encode
# clause: sentiment-encode-truncation


def encode(token_lists, vocab, *, max_len):
    index = {word: i for i, word in enumerate(vocab)}
    ids = np.full((len(token_lists), max_len), PAD_ID, dtype=np.int64)
    for row, tokens in enumerate(token_lists):
        kept = tokens[:max_len]
        ids[row, :len(kept)] = [index.get(word, UNK_ID) for word in kept]
    return ids
