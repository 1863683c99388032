"""clip_grad_norm scales by max_norm / total_norm even when total_norm is below max_norm (it stretches small gradients)."""
# file: text.py
# affects: rnn.clip_grad_norm
# clause: clip-global

_clip = clip_grad_norm


def clip_grad_norm(grads, max_norm):
    _, total_norm = _clip(grads, max_norm)
    return {k: g * (max_norm / float(total_norm)) for k, g in grads.items()}, total_norm
