"""Write `cupy/api.json`: the names (and, where CuPy exposes them, the parameter names) of the
real CuPy API that the CPU stand-in in `cupy/` mirrors. Needs CuPy importable, not a GPU:

    pip install cupy-cuda12x && python tests/fakecupy/make_api.py
"""
import inspect
import json
import types
from pathlib import Path

import cupy
import cupy.lib.stride_tricks
import cupy.linalg
import cupy.random


def params(f):
    """Parameter names, or None when unknown or when the callable takes **kwargs."""
    try:
        sig = inspect.signature(f)
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return None
    return [n for n in sig.parameters if n != "self"]


def describe(namespace):
    out = {}
    for name in sorted(dir(namespace)):
        if name.startswith("_"):
            continue
        value = getattr(namespace, name)
        if isinstance(value, cupy.ufunc):
            out[name] = {"kind": "ufunc"}
        elif isinstance(value, types.ModuleType):
            out[name] = {"kind": "module"}
        elif isinstance(value, type):
            out[name] = {"kind": "type"}
        elif callable(value):
            out[name] = {"kind": "function", "params": params(value)}
        else:
            out[name] = {"kind": "value"}
    return out


api = {"version": cupy.__version__,
       "cupy": describe(cupy),
       "cupy.linalg": describe(cupy.linalg),
       "cupy.random": describe(cupy.random),
       "cupy.lib.stride_tricks": describe(cupy.lib.stride_tricks),
       "ndarray": {n: params(getattr(cupy.ndarray, n)) for n in dir(cupy.ndarray)
                   if not n.startswith("_") and callable(getattr(cupy.ndarray, n))},
       "ndarray_attributes": sorted(n for n in dir(cupy.ndarray)
                                    if not n.startswith("_") and not callable(getattr(cupy.ndarray, n))),
       "Generator": {n: params(getattr(cupy.random.Generator, n)) for n in dir(cupy.random.Generator)
                     if not n.startswith("_")}}
Path(__file__).with_name("cupy").joinpath("api.json").write_text(json.dumps(api, indent=0, sort_keys=True) + "\n")
