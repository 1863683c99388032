"""classifier_loss passes the targets (N,) to the loss as they are, against logits (N, 1): the
loss broadcasts to (N, N)."""
# file: model.py
# affects: sentiment.model.loss
# clause: sentiment-model-loss


def classifier_loss(ids, target, params, *, arch):
    model = build_model(arch)
    layered = [{} for _ in arch]
    for key, value in params.items():
        i, name = key.split(".", 1)
        layered[int(i)][name] = value
    logits, cache = model.forward(ids, layered, train=True, state=pooling_state(model, ids))
    loss_fn = BCEWithLogitsLoss()
    loss, loss_cache = loss_fn.forward(logits, target.astype(logits.dtype))
    dlogits = loss_fn.backward(loss_cache).sum(axis=1, keepdims=True)
    _, grads = model.backward(dlogits, cache)
    return loss, {f"{i}.{name}": g for i, gs in enumerate(grads) for name, g in gs.items()}
