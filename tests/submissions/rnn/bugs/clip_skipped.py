"""clip_grad_norm computes the norm but never scales: gradients above max_norm come back unclipped."""
# file: text.py
# affects: rnn.clip_grad_norm
# clause: clip-global

_clip = clip_grad_norm


def clip_grad_norm(grads, max_norm):
    _, total_norm = _clip(grads, max_norm)
    return {k: g.copy() for k, g in grads.items()}, total_norm
