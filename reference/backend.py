"""Array-module dispatch: the only module in dlgrade that imports CuPy."""
import numpy as np

try:  # pragma: no cover - depends on the machine
    import cupy as _cupy
except Exception:  # ImportError, or CUDA libraries missing
    _cupy = None


def cupy_available() -> bool:
    """True when CuPy imports and sees at least one CUDA device."""
    if _cupy is None:
        return False
    try:
        return _cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def get_array_module(*arrays):
    """Return `cupy` if any argument is a CuPy array, else `numpy`."""
    if _cupy is not None:
        return _cupy.get_array_module(*arrays)
    return np


def to_numpy(x):
    """A NumPy copy of a NumPy or CuPy array (scalars become 0-d arrays)."""
    if _cupy is not None and isinstance(x, _cupy.ndarray):
        return _cupy.asnumpy(x)
    return np.asarray(x)


def get_xp(device: str):
    """The array module for a device name: 'cpu' -> numpy, 'cuda' -> cupy."""
    if device == "cpu":
        return np
    if device == "cuda":
        if not cupy_available():
            raise RuntimeError("--device cuda needs CuPy and a CUDA device")
        return _cupy
    raise ValueError(f"unknown device {device!r} (use 'cpu' or 'cuda')")
