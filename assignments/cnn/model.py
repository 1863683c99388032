"""Build, save and load CNNs in the `cnn_weights.npz` format. (Given code, not graded.)

The format is that of the `mlp` assignment (see `mlp_model.py`, the first assignment's
`model.py`, whose `save_model` and `load_model` are reused here): `arch`, a JSON list of
{"type": name, **hyperparameters} dicts, and every parameter and state array of layer i as
`"{i}.{name}"`. `build_model` also knows the layers of `conv.py`.
"""
try:  # imported as part of a package
    from . import conv as _conv
    from . import layers as _layers
    from .mlp_model import LAYER_TYPES as MLP_LAYER_TYPES, load_model, save_model  # noqa: F401
except ImportError:  # imported as a top-level module, with this folder on sys.path
    import conv as _conv
    import layers as _layers
    from mlp_model import LAYER_TYPES as MLP_LAYER_TYPES, load_model, save_model  # noqa: F401

CONV_LAYER_TYPES = ("Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm2d")
LAYER_TYPES = MLP_LAYER_TYPES + CONV_LAYER_TYPES


def build_model(arch):
    """A `Sequential` from a list of {"type": name, **hyperparameters} dicts."""
    layers = []
    for spec in arch:
        kind = spec["type"]
        if kind not in LAYER_TYPES:
            raise ValueError(f"unknown layer type {kind!r} (known: {', '.join(LAYER_TYPES)})")
        kwargs = {k: v for k, v in spec.items() if k != "type"}
        module = _conv if kind in CONV_LAYER_TYPES else _layers
        layers.append(getattr(module, kind)(**kwargs))
    return _layers.Sequential(layers=layers)
