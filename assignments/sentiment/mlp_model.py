"""Build, save and load MLPs in the `mlp_weights.npz` format. (Given code, not graded.)

The file is a `numpy.savez` archive holding
- `arch`: a JSON string (0-d unicode array) listing the layers, for example
  `[{"type": "Flatten"}, {"type": "Linear", "in_features": 3072, "out_features": 512}, ...]`;
- `"{i}.{name}"`: every parameter and state array of layer i (`"1.W"`, `"2.running_mean"`).
The grader rebuilds the model from `arch` and evaluates it in float32, so large weight matrices
may be stored as float16 to keep the file small.
"""
import json

import numpy as np

try:  # imported as part of a package
    from . import layers as _layers
except ImportError:  # imported as a top-level module, with this folder on sys.path
    import layers as _layers

LAYER_TYPES = ("Linear", "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "ELU", "Softplus", "Softmax",
               "LogSoftmax", "Dropout", "BatchNorm1d", "Flatten")


def build_model(arch):
    """A `Sequential` from a list of {"type": name, **hyperparameters} dicts."""
    layers = []
    for spec in arch:
        kind = spec["type"]
        if kind not in LAYER_TYPES:
            raise ValueError(f"unknown layer type {kind!r} (known: {', '.join(LAYER_TYPES)})")
        kwargs = {k: v for k, v in spec.items() if k != "type"}
        layers.append(getattr(_layers, kind)(**kwargs))
    return _layers.Sequential(layers=layers)


def save_model(path, arch, params, state):
    """Write `arch` (a list of dicts) and the per-layer `params` and `state` lists to `path`."""
    if not (len(arch) == len(params) == len(state)):
        raise ValueError(f"arch, params and state must have one entry per layer "
                         f"(got {len(arch)}, {len(params)}, {len(state)})")
    arrays = {"arch": np.array(json.dumps(arch))}
    for i, (p, s) in enumerate(zip(params, state)):
        for name, value in {**p, **s}.items():
            arrays[f"{i}.{name}"] = _layers.to_numpy(value)  # CuPy arrays too
    np.savez(path, **arrays)


def load_model(path, dtype=np.float32):
    """Read a file written by `save_model`: returns (arch, params, state).

    Floating arrays come back as `dtype` (float16-stored weights included); arrays whose name
    starts with "running_" go to `state`, the others to `params`.
    """
    with np.load(path, allow_pickle=False) as data:
        arch = json.loads(str(data["arch"]))
        params = [{} for _ in arch]
        state = [{} for _ in arch]
        for key in data.files:
            if key == "arch":
                continue
            i, name = key.split(".", 1)
            value = data[key]
            if value.dtype.kind == "f":
                value = value.astype(dtype)
            (state if name.startswith("running_") else params)[int(i)][name] = value
    return arch, params, state
