"""clip_grad_norm scales the given gradients in place (g *= scale) and returns them: the values are right but the input is overwritten."""
# file: text.py
# affects: rnn.clip_grad_norm
# clause: pure

_clip = clip_grad_norm


def clip_grad_norm(grads, max_norm):
    clipped, total_norm = _clip(grads, max_norm)
    for k in grads:
        grads[k][...] = clipped[k]
    return grads, total_norm
