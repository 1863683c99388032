"""Array-module dispatch: the only module in dlgrade that imports CuPy."""
import numpy as np

try:  # pragma: no cover - depends on the machine
    import cupy as _cupy
    _import_error = ""
except Exception as exc:  # ImportError, or CUDA libraries missing
    _cupy = None
    _import_error = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]


def cuda_problem() -> str:
    """Why `--device cuda` cannot run here, in one line ("" when CuPy imports and sees a CUDA device)."""
    if _cupy is None:
        missing = not _import_error or _import_error.startswith("ModuleNotFoundError: No module named 'cupy'")
        return ("--device cuda needs CuPy, which is not installed here (pip install 'dlgrade[gpu]', or the "
                "cupy-cuda* wheel for your CUDA version)" if missing else
                f"--device cuda needs CuPy, which does not import here ({_import_error})")
    try:
        count = _cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return f"--device cuda needs a CUDA device: CuPy finds none ({type(exc).__name__}: {exc})".splitlines()[0]
    return "" if count > 0 else "--device cuda needs a CUDA device: CuPy finds none"


def cupy_available() -> bool:
    """True when CuPy imports and sees at least one CUDA device."""
    return not cuda_problem()


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
    """The array module for a device name: 'cpu' -> numpy, 'cuda' -> cupy (RuntimeError with
    `cuda_problem()`'s line when CuPy or a GPU is missing)."""
    if device == "cpu":
        return np
    if device == "cuda":
        problem = cuda_problem()
        if problem:
            raise RuntimeError(problem)
        return _cupy
    raise ValueError(f"unknown device {device!r} (use 'cpu' or 'cuda')")
