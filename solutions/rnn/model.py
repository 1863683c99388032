"""Build, save and load character-level language models in the `*_weights.npz` format.
(Given code, not graded.)

The format is that of the `mlp` assignment (see `mlp_model.py`, the first assignment's
`model.py`) plus one entry: a `numpy.savez` archive of
- `arch`: a JSON string (0-d unicode array) listing the layers, for example
  `[{"type": "Embedding", "num_embeddings": 27, "embedding_dim": 64},
    {"type": "LSTM", "input_size": 64, "hidden_size": 512}, ...]`;
- `"{i}.{name}"`: every parameter (and running-statistics) array of layer i (`"1.Wh"`);
- `vocab`: a JSON string (0-d unicode array) of the list of vocabulary characters in index
  order (for names, index 0 is ".", the start and end of a name).
The grader rebuilds the model from `arch` and evaluates it in float32, so large weight matrices
may be stored as float16 to keep the file small. The hidden states that the recurrent layers
keep in their `state` dicts are never saved.
"""
import json

import numpy as np

try:  # imported as part of a package
    from . import layers as _layers
    from . import rnn as _rnn
    from .mlp_model import LAYER_TYPES as MLP_LAYER_TYPES
except ImportError:  # imported as a top-level module, with this folder on sys.path
    import layers as _layers
    import rnn as _rnn
    from mlp_model import LAYER_TYPES as MLP_LAYER_TYPES

RNN_LAYER_TYPES = ("Embedding", "RNN", "LSTM", "GRU", "TemporalLinear")
LAYER_TYPES = MLP_LAYER_TYPES + RNN_LAYER_TYPES


def build_model(arch):
    """A `Sequential` from a list of {"type": name, **hyperparameters} dicts."""
    layers = []
    for spec in arch:
        kind = spec["type"]
        if kind not in LAYER_TYPES:
            raise ValueError(f"unknown layer type {kind!r} (known: {', '.join(LAYER_TYPES)})")
        kwargs = {k: v for k, v in spec.items() if k != "type"}
        module = _rnn if kind in RNN_LAYER_TYPES else _layers
        layers.append(getattr(module, kind)(**kwargs))
    return _layers.Sequential(layers=layers)


def save_model(path, arch, params, vocab, state=None):
    """Write `arch`, the per-layer `params` (and the running statistics in `state`, if any)
    and `vocab` (a string or list of characters in index order) to `path`."""
    state = [{} for _ in arch] if state is None else state
    if not (len(arch) == len(params) == len(state)):
        raise ValueError(f"arch, params and state must have one entry per layer "
                         f"(got {len(arch)}, {len(params)}, {len(state)})")
    arrays = {"arch": np.array(json.dumps(arch)), "vocab": np.array(json.dumps(list(vocab)))}
    for i, (p, s) in enumerate(zip(params, state)):
        running = {k: v for k, v in s.items() if k.startswith("running_")}
        for name, value in {**p, **running}.items():
            arrays[f"{i}.{name}"] = _layers.to_numpy(value)  # CuPy arrays too
    np.savez(path, **arrays)


def load_model(path, dtype=np.float32):
    """Read a file written by `save_model`: returns (arch, params, state, vocab).

    Floating arrays come back as `dtype` (float16-stored weights included); arrays whose name
    starts with "running_" go to `state`, the others to `params`; `vocab` is the list of
    characters in index order.
    """
    with np.load(path, allow_pickle=False) as data:
        arch = json.loads(str(data["arch"]))
        vocab = list(json.loads(str(data["vocab"])))
        params = [{} for _ in arch]
        state = [{} for _ in arch]
        for key in data.files:
            if key in ("arch", "vocab"):
                continue
            i, name = key.split(".", 1)
            value = data[key]
            if value.dtype.kind == "f":
                value = value.astype(dtype)
            (state if name.startswith("running_") else params)[int(i)][name] = value
    return arch, params, state, vocab
