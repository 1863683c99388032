"""Build, save and load auto-encoders in the weights format of the course. (Given code, not graded.)

The format is that of the `mlp` assignment (see `mlp_model.py`, whose `save_model` and
`load_model` are reused here): `arch`, a JSON list of {"type": name, **hyperparameters} dicts,
and every parameter and state array of layer i as `"{i}.{name}"`. `build_model` also knows the
layers of `conv.py` and `autoencoder.py`; `code_size` says how many numbers per image the
narrowest layer of a model passes on (the grader requires at most 256, see CONTRACT.md).
"""
try:  # imported as part of a package
    from . import autoencoder as _autoencoder
    from . import conv as _conv
    from . import layers as _layers
    from .mlp_model import LAYER_TYPES as MLP_LAYER_TYPES, load_model, save_model  # noqa: F401
except ImportError:  # imported as a top-level module, with this folder on sys.path
    import autoencoder as _autoencoder
    import conv as _conv
    import layers as _layers
    from mlp_model import LAYER_TYPES as MLP_LAYER_TYPES, load_model, save_model  # noqa: F401

CONV_LAYER_TYPES = ("Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm2d")
UP_LAYER_TYPES = ("Upsample2d", "ConvTranspose2d")
LAYER_TYPES = MLP_LAYER_TYPES + CONV_LAYER_TYPES + UP_LAYER_TYPES


def build_model(arch):
    """A `Sequential` from a list of {"type": name, **hyperparameters} dicts."""
    layers = []
    for spec in arch:
        kind = spec["type"]
        if kind not in LAYER_TYPES:
            raise ValueError(f"unknown layer type {kind!r} (known: {', '.join(LAYER_TYPES)})")
        kwargs = {k: v for k, v in spec.items() if k != "type"}
        module = _conv if kind in CONV_LAYER_TYPES else _autoencoder if kind in UP_LAYER_TYPES else _layers
        layers.append(getattr(module, kind)(**kwargs))
    return _layers.Sequential(layers=layers)


def code_size(model, params, state, image_shape=(3, 32, 32)):
    """The number of values per image at the model's narrowest point: the smallest output of any
    layer, on one image of `image_shape` (run in evaluation mode)."""
    import numpy as np
    x = np.zeros((1, *image_shape), dtype=np.float32)
    smallest = x.size
    for layer, p, s in zip(model.layers, params, state):
        x, _ = layer.forward(x, p, train=False, state=s)
        smallest = min(smallest, x.size)
    return smallest
