"""tokenize leaves IMDB's `<br />` markup in the text: every line break adds a token "br"."""
# file: reviews.py
# affects: sentiment.text.tokenize
# clause: sentiment-tokenize


def tokenize(text):
    return WORD.findall(text.lower())
