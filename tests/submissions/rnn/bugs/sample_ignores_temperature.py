"""sample_next draws from softmax(logits), ignoring the temperature."""
# file: text.py
# affects: rnn.sample_next

_sample_next = sample_next


def sample_next(logits, *, rng, temperature=1.0, top_k=None):
    return _sample_next(logits, rng=rng, temperature=1.0, top_k=top_k)
