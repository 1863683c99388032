"""clip_grad_norm clips each gradient by its own norm instead of by the global norm."""
# file: text.py
# affects: rnn.clip_grad_norm


def clip_grad_norm(grads, max_norm):
    total_norm = np.sqrt(sum((g * g).sum() for g in grads.values())).reshape(())
    clipped = {}
    for k, g in grads.items():
        norm = float(np.sqrt((g * g).sum()))
        clipped[k] = g * (max_norm / norm) if norm > max_norm else g.copy()
    return clipped, np.asarray(total_norm, dtype=next(iter(grads.values())).dtype)
