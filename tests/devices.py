"""Array modules for tests: NumPy, the CPU stand-in for CuPy (`tests/fakecupy`), real CuPy.

`ARRAY_MODULES` parametrises a test over the three, through the `xp` fixture (conftest.py):
"numpy" always, "fakecupy" always (CPU: the CuPy code paths, NumPy arithmetic), "cupy" marked
`gpu` and skipped without CuPy and a CUDA device. While "fakecupy" runs, `import cupy` and
`reference.backend` see the stand-in; real CuPy, where installed, comes back afterwards.
"""
import contextlib
import functools
import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from reference import backend

FAKE_DIR = Path(__file__).resolve().parent / "fakecupy"


def real_cupy_available() -> bool:
    return backend.cupy_available() and not getattr(backend._cupy, "__fake__", False)


GPU = [pytest.mark.gpu, pytest.mark.skipif(not real_cupy_available(), reason="needs CuPy and a CUDA device")]
ARRAY_MODULES = pytest.mark.parametrize("xp", [pytest.param("numpy"), pytest.param("fakecupy"),
                                               pytest.param("cupy", marks=GPU)], indirect=True)
DEVICE_MODULES = pytest.mark.parametrize("xp", [pytest.param("fakecupy"), pytest.param("cupy", marks=GPU)],
                                         indirect=True)


def _cupy_modules():
    return {k: v for k, v in sys.modules.items() if k == "cupy" or k.startswith("cupy.")}


@functools.lru_cache(maxsize=None)
def _fake_modules():
    """The stand-in's modules, imported once without disturbing a real CuPy in sys.modules."""
    saved = _cupy_modules()
    for k in saved:
        del sys.modules[k]
    try:
        spec = importlib.util.spec_from_file_location("cupy", FAKE_DIR / "cupy" / "__init__.py",
                                                      submodule_search_locations=[str(FAKE_DIR / "cupy")])
        module = importlib.util.module_from_spec(spec)
        sys.modules["cupy"] = module
        spec.loader.exec_module(module)
        return _cupy_modules()
    finally:
        for k in _cupy_modules():
            del sys.modules[k]
        sys.modules.update(saved)


@contextlib.contextmanager
def fake_cupy():
    """`import cupy` and reference.backend give the CPU stand-in inside this block."""
    fake = _fake_modules()
    with pytest.MonkeyPatch.context() as mp:
        for k in _cupy_modules():
            mp.delitem(sys.modules, k)
        for k, v in fake.items():
            mp.setitem(sys.modules, k, v)
        mp.setattr(backend, "_cupy", fake["cupy"])
        yield fake["cupy"]


def fake_env(env=None):
    """An environment for a subprocess (the CLI) whose `import cupy` finds the stand-in."""
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join([str(FAKE_DIR)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def to_device(xp, tree):
    """NumPy arrays in a nested dict/list/tuple moved to `xp` (other leaves kept)."""
    if isinstance(tree, dict):
        return {k: to_device(xp, v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(to_device(xp, v) for v in tree)
    return xp.asarray(tree) if isinstance(tree, np.ndarray) else tree


def to_host(xp, tree, where="output"):
    """The tree's arrays as NumPy arrays, after checking that each one is an `xp` array (an array
    that came back as NumPy from CuPy inputs left the device)."""
    if isinstance(tree, dict):
        return {k: to_host(xp, v, f"{where}[{k!r}]") for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(to_host(xp, v, f"{where}[{i}]") for i, v in enumerate(tree))
    if tree is None or isinstance(tree, (bool, int, float)):
        return tree
    assert type(tree) is xp.ndarray, f"{where} is a {type(tree).__module__}.{type(tree).__name__}, not {xp.__name__}.ndarray"
    return backend.to_numpy(tree)
