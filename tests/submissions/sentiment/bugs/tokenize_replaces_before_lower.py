"""tokenize replaces `<br />` before lower-casing, so an upper-case `<BR />` is kept as the token "br"."""
# file: reviews.py
# affects: sentiment.text.tokenize
# clause: sentiment-tokenize


def tokenize(text):
    return WORD.findall(text.replace(BREAK, " ").lower())
