"""Names several courses' registries share: the layer types a trained model of each assignment may
use, and the hyperparameter helpers of convolution-like layers' case makers."""

MLP_LAYERS = ("Flatten", "Linear", "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "ELU", "Softplus", "Dropout", "BatchNorm1d")
CNN_LAYERS = MLP_LAYERS + ("Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm2d")


def as_pair(k):
    """(a, b) from a hyperparameter given as an int or a pair (a tuple, or a list as JSON carries it)."""
    return tuple(k) if isinstance(k, (list, tuple)) else (k, k)


def hp(k):
    """A hyperparameter as the worker's JSON carries it (a pair becomes a list)."""
    return list(k) if isinstance(k, tuple) else k


def given(**kwargs):
    """The keyword arguments whose value is not None: None in a case's spec leaves that argument
    out, so the layer's own default applies."""
    return {k: v for k, v in kwargs.items() if v is not None}
