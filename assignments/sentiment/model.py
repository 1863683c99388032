"""The sentiment classifier: build, run, save and load it in the `sentiment_weights.npz` format.

The model is a `Sequential` of the layers you wrote in earlier assignments and this one:
Embedding(V, E) -> LSTM(E, H) (or GRU) -> MaskedMeanPool -> Linear(H, 1), one logit per review
(positive when the model thinks the review is positive: p = sigmoid(logit)). Before each forward
pass, `pooling_state` puts the mask of real tokens (ids != PAD_ID) into the state of every
masked pooling layer; the recurrent layers get an empty state, so every batch starts from zeros.

The weights file is that of the earlier assignments (`mlp_model.py`) plus one entry: a
`numpy.savez` archive of
- `arch`: a JSON string (0-d unicode array) listing the layers, for example
  `[{"type": "Embedding", "num_embeddings": 20000, "embedding_dim": 64},
    {"type": "LSTM", "input_size": 64, "hidden_size": 96}, {"type": "MaskedMeanPool"},
    {"type": "Linear", "in_features": 96, "out_features": 1}]`;
- `"{i}.{name}"`: every parameter of layer i (`"1.Wh"`);
- `vocab`: a JSON string (0-d unicode array) of the vocabulary (`reviews.build_vocab`), index
  order: the grader tokenizes and encodes the test reviews with it (`reviews.tokenize`, `encode`)
  at the `max_len` stored in `max_len` (a 0-d integer array).
The grader rebuilds the model from `arch` and evaluates it in float32, so large weight matrices
may be stored as float16 to keep the file small.
"""
import json

import numpy as np

try:  # imported as part of a package
    from . import layers as _layers
    from . import pooling as _pooling
    from . import rnn as _rnn
    from .losses import BCEWithLogitsLoss
    from .reviews import PAD_ID
except ImportError:  # imported as a top-level module, with this folder on sys.path
    import layers as _layers
    import pooling as _pooling
    import rnn as _rnn
    from losses import BCEWithLogitsLoss
    from reviews import PAD_ID

LAYER_TYPES = {"Embedding": _rnn, "LSTM": _rnn, "GRU": _rnn, "MaskedMeanPool": _pooling, "Linear": _layers,
               "Dropout": _layers}


def build_model(arch):
    """A `Sequential` from a list of {"type": name, **hyperparameters} dicts. (Given code.)"""
    layers = []
    for spec in arch:
        kind = spec["type"]
        if kind not in LAYER_TYPES:
            raise ValueError(f"unknown layer type {kind!r} (known: {', '.join(LAYER_TYPES)})")
        layers.append(getattr(LAYER_TYPES[kind], kind)(**{k: v for k, v in spec.items() if k != "type"}))
    return _layers.Sequential(layers=layers)


def pooling_state(model, ids):
    """The `state` list for `model.forward(ids, ...)`: {"mask": ids != PAD_ID} for every masked
    pooling layer, {} for the others. (Given code.)"""
    mask = ids != PAD_ID
    return [{"mask": mask} if type(layer).__name__.startswith("Masked") else {} for layer in model.layers]


def classifier_loss(ids, target, params, *, arch, rng=None):
    """The loss of the classifier on one batch and its gradient with respect to every parameter.

    Shapes: ids (N, T) int64 (encoded reviews, PAD_ID after the real ids), target (N,) float in
    {0, 1} (1: positive) -> (loss (), grads). `params` and `grads` are flat dicts {"i.name": array}
    (the keys of the weights file: "0.W" is the embedding, "1.Wx" the recurrent layer's input
    weights, ...), `grads` with the keys and shapes of `params`. `arch` as in the weights file.
    Notes: build the model from `arch` (`build_model`), run it forward in training mode with the
    pooling state of `pooling_state` (logits (N, 1)), take `BCEWithLogitsLoss` of the logits and the
    targets (each of shape (N, 1)), and backpropagate. The loss is the batch mean; the parameters
    are not modified. `rng` (a `numpy.random.Generator`) goes to the model's forward pass, for the
    Dropout layers `arch` may hold.
    """
    # YOUR CODE HERE
    raise NotImplementedError


def predict_proba(model, params, ids, batch_size=500):
    """p(positive) of every review, float64 (N,), in evaluation mode and in batches. (Given code.)"""
    out = []
    for i in range(0, len(ids), batch_size):
        batch = ids[i:i + batch_size]
        logits, _ = model.forward(batch, params, train=False, state=pooling_state(model, batch))
        out.append(_layers.to_numpy(logits[:, 0]).astype(np.float64))
    z = np.concatenate(out) if out else np.zeros(0)
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def save_model(path, arch, params, vocab, max_len):
    """Write `arch`, the per-layer `params` (a list of dicts), `vocab` and `max_len` to `path`.
    (Given code.)"""
    arrays = {"arch": np.array(json.dumps(arch)), "vocab": np.array(json.dumps(list(vocab))),
              "max_len": np.array(int(max_len))}
    for i, p in enumerate(params):
        for name, value in p.items():
            arrays[f"{i}.{name}"] = _layers.to_numpy(value)
    np.savez(path, **arrays)


def load_model(path, dtype=np.float32):
    """Read a file written by `save_model`: (arch, params, vocab, max_len). (Given code.)"""
    with np.load(path, allow_pickle=False) as data:
        arch = json.loads(str(data["arch"]))
        vocab = list(json.loads(str(data["vocab"])))
        max_len = int(data["max_len"])
        params = [{} for _ in arch]
        for key in data.files:
            if key in ("arch", "vocab", "max_len"):
                continue
            i, name = key.split(".", 1)
            value = data[key]
            params[int(i)][name] = value.astype(dtype) if value.dtype.kind == "f" else value
    return arch, params, vocab, max_len
