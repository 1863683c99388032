"""Known bugs of the `sentiment` assignment, as small variants of the reference: when a student's
output matches one, the feedback names the bug. Instructor-only: never released."""
import re
from collections import Counter

import numpy as np

from reference.sentiment import BREAK, PAD, PAD_ID, UNK, UNK_ID, WORD, MaskedMeanPool, build_vocab, encode


def tokenize_br_before_lower(text):
    return WORD.findall(text.replace(BREAK, " ").lower())


def tokenize_w(text):
    return re.findall(r"\w+(?:'\w+)*", text.lower().replace(BREAK, " "))


def tokenize_split_apostrophes(text):
    return re.findall(r"[^\W_]+", text.lower().replace(BREAK, " "))


def vocab_ties_by_first_seen(token_lists, *, max_size):
    counts = Counter(w for tokens in token_lists for w in tokens if w not in (PAD, UNK))
    return [PAD, UNK] + [w for w, _ in counts.most_common()][:max(0, max_size - 2)]


def vocab_size_without_specials(token_lists, *, max_size):
    return build_vocab(token_lists, max_size=max_size + 2)


def vocab_document_frequency(token_lists, *, max_size):
    return build_vocab([sorted(set(tokens)) for tokens in token_lists], max_size=max_size)


def encode_pad_front(token_lists, vocab, *, max_len):
    ids = encode(token_lists, vocab, max_len=max_len)
    for row in ids:
        n = int((row != PAD_ID).sum())
        row[:] = np.concatenate([row[n:], row[:n]])  # the padding first, the real ids last
    return ids


def encode_keep_first(token_lists, vocab, *, max_len):
    return encode([list(tokens)[:max_len] for tokens in token_lists], vocab, max_len=max_len)


def encode_unknown_as_pad(token_lists, vocab, *, max_len):
    ids = encode(token_lists, vocab, max_len=max_len)
    ids[ids == UNK_ID] = PAD_ID
    return ids


class PoolCountsPadding(MaskedMeanPool):
    """The mean over all T steps (padding counted in the denominator)."""

    def forward(self, x, params, *, train=False, rng=None, state=None):
        y, (m, count) = super().forward(x, params, train=train, rng=rng, state=state)
        T = x.shape[1]
        return y * count / T, (m, count * 0 + T)


class PoolBackwardUnmasked(MaskedMeanPool):
    """dx spread over every step, padded ones too."""

    def backward(self, dy, cache):
        m, count = cache
        return (dy / count)[:, None, :] * (m * 0 + 1)[:, :, None], {}
