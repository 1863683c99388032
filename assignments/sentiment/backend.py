"""Arrays on the CPU or the GPU: the helpers every assignment's code imports. (Given code, not graded.)

The same layer code runs on NumPy arrays and on CuPy arrays (`dlgrade check --device cuda`,
`python train.py --device cuda`). Write `xp = array_module(x)` and make new arrays with
`xp.zeros(...)`, `xp.asarray(...)`; NumPy functions applied to the arrays you are given
(`np.where`, `np.exp`, `np.einsum`, `sliding_window_view`, `np.add.at`) hand CuPy arrays to CuPy,
but those that make a new array from nothing (`np.zeros`) or from host data (`np.asarray`) make
a NumPy one, which CuPy refuses to mix with its own.
"""
import numpy as np


def array_module(x):
    """The array module of `x`: `cupy` for a CuPy array, else `numpy`."""
    if type(x).__module__.split(".")[0] == "cupy":
        import cupy
        return cupy
    return np


def device_module(device):
    """The array module of a device name: "cpu" -> numpy, "cuda" -> cupy.

    Raises RuntimeError with a one-line reason when CuPy is missing or finds no GPU.
    """
    if device == "cpu":
        return np
    if device != "cuda":
        raise ValueError(f"unknown device {device!r} (use 'cpu' or 'cuda')")
    try:
        import cupy
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # not installed, no driver, no GPU
        raise RuntimeError(f"--device cuda needs CuPy and a CUDA device ({type(exc).__name__}: {exc})"
                           .splitlines()[0]) from None
    if count < 1:
        raise RuntimeError("--device cuda needs a CUDA device: CuPy finds none")
    return cupy


def to_numpy(x):
    """A NumPy array from a NumPy or CuPy array (a CuPy array is copied to the host)."""
    return x.get() if type(x).__module__.split(".")[0] == "cupy" else np.asarray(x)


def to_device(xp, tree):
    """The arrays of a (nested) dict or list moved to the array module `xp`."""
    if isinstance(tree, dict):
        return {k: to_device(xp, v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [to_device(xp, v) for v in tree]
    return to_numpy(tree) if xp is np else xp.asarray(tree)
