"""encode puts the padding before the real ids (Keras' default), not after them."""
# file: reviews.py
# affects: sentiment.text.encode
# clause: sentiment-encode-padding


def encode(token_lists, vocab, *, max_len):
    index = {word: i for i, word in enumerate(vocab)}
    ids = np.full((len(token_lists), max_len), PAD_ID, dtype=np.int64)
    for row, tokens in enumerate(token_lists):
        kept = tokens[-max_len:]
        if kept:
            ids[row, max_len - len(kept):] = [index.get(word, UNK_ID) for word in kept]
    return ids
