"""Text to model inputs for the `sentiment` assignment: tokens, a vocabulary, fixed-length ids.

A review becomes a list of tokens (`tokenize`), the training split's tokens a vocabulary
(`build_vocab`), and a batch of token lists an integer array of shape (N, max_len) (`encode`)
that the model reads. Pure Python and NumPy on the host; the ids move to the GPU with the batch.
"""
import re
from collections import Counter

import numpy as np

PAD, UNK = "<pad>", "<unk>"  # vocabulary entries 0 and 1
PAD_ID, UNK_ID = 0, 1
# A word: a run of letters and digits (any alphabet, "_" excluded), with apostrophes inside it
# kept ("don't", "it's"); everything else (punctuation, spaces, markup) separates words.
WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
BREAK = "<br />"  # IMDB's line break


def tokenize(text):
    """The words of one review, in order: a list of str.

    Lower-case the text (`str.lower`), replace every `<br />` with a space, then return every
    match of `WORD`, left to right (`WORD.findall`).
    Example: tokenize("Don't watch it!<br />Awful.") == ["don't", "watch", "it", "awful"].
    """
    # YOUR CODE HERE
    raise NotImplementedError


def build_vocab(token_lists, *, max_size):
    """The vocabulary of `token_lists` (the training split's token lists only): a list of str.

    Entry 0 is PAD ("<pad>"), entry 1 is UNK ("<unk>"), then the most frequent words (counted
    over all lists together), most frequent first, words of equal count in alphabetical order
    (Python's `<` on str), until the list holds `max_size` entries (fewer if there are fewer
    distinct words). PAD and UNK are never counted as words.
    """
    # YOUR CODE HERE
    raise NotImplementedError


def encode(token_lists, vocab, *, max_len):
    """The token lists as ids: int64 array of shape (N, max_len).

    A word's id is its index in `vocab`; a word not in it gets UNK_ID (1). A list longer than
    max_len keeps its LAST max_len words (the end of a review, where its verdict usually is); a
    shorter one is followed by PAD_ID (0) up to max_len, so the real ids of every row come first
    and the padding last.
    """
    # YOUR CODE HERE
    raise NotImplementedError
