"""What crosses the process boundary: nested dicts of arrays as `.npz` files, never pickles.

Keys are paths joined with "/" (`"0/grads/W"`). Loading uses `allow_pickle=False` and keeps
only exact `numpy.ndarray`s of plain numeric or boolean dtypes, so nothing a worker writes can
run code or masquerade as a number in the trusted parent. NumPy-only: the worker loads this
module by path.
"""
import numpy as np

ALLOWED_KINDS = "biufc"  # bool, signed/unsigned int, float, complex; never object/void/str
MAX_ARRAYS = 100_000


class WireError(ValueError):
    """A worker's output is not a plain array tree."""


def flatten(tree, prefix=""):
    """{"a": {"b": arr}} -> {"a/b": arr}. Only dicts are nodes: anything else is a leaf."""
    flat = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, path + "/"))
        else:
            flat[path] = value
    return flat


def unflatten(flat):
    """Inverse of `flatten`."""
    tree = {}
    for path, value in flat.items():
        node = tree
        *parents, leaf = path.split("/")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return tree


def to_numpy(value):
    """A NumPy array from an array-like (CuPy arrays via `.get()`), for saving only."""
    if hasattr(value, "get") and type(value).__module__.startswith("cupy"):
        value = value.get()
    return np.asarray(value)


def save(path, tree):
    """Write a nested dict of arrays to `path` (an .npz file)."""
    flat = {k: to_numpy(v) for k, v in flatten(tree).items()}
    with open(path, "wb") as f:
        np.savez(f, allow_pickle=False, **flat)


def load(path):
    """Read an .npz written by `save`, refusing pickles and anything but plain arrays."""
    out = {}
    with np.load(path, allow_pickle=False) as data:
        if len(data.files) > MAX_ARRAYS:
            raise WireError(f"too many arrays ({len(data.files)})")
        for key in data.files:
            arr = data[key]
            if type(arr) is not np.ndarray or arr.dtype.kind not in ALLOWED_KINDS:
                raise WireError(f"{key}: not a plain numeric array (dtype {arr.dtype})")
            out[key] = arr
    return unflatten(out)
