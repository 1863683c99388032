# ---- shared by the "code that computes nothing" submissions (`# include: shared/do_nothing.py`)
import copy as _copy
import inspect as _inspect

import numpy as _np

_ROLES = {"forward": 1, "step": 1}  # methods whose second result is a cache, passed on as it is
_KEEP = {"init_params", "init_state", "__init__"}


def _arrays(value):
    """Every array inside `value` (nested dicts, lists and tuples), in order."""
    if isinstance(value, dict):
        return [a for v in value.values() for a in _arrays(v)]
    if isinstance(value, (list, tuple)):
        return [a for v in value for a in _arrays(v)]
    return [value] if isinstance(value, (_np.ndarray, _np.generic)) else []


def _replace(value, pick):
    if isinstance(value, dict):
        return {k: _replace(v, pick) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_replace(v, pick) for v in value)
    return pick(value) if isinstance(value, (_np.ndarray, _np.generic)) else value


def _hollow(fn, policy, cache_at=None):
    """`fn` whose array results are replaced by `policy(result, inputs)`; the real code runs only
    to learn the shapes and dtypes, on copies, so it changes nothing (no state update)."""
    def wrapper(*args, **kwargs):
        kwargs = {k: _copy.deepcopy(v) if k == "state" else v for k, v in kwargs.items()}
        out = fn(*_copy.deepcopy(args), **kwargs)
        inputs = _arrays(args[1:] if args and not isinstance(args[0], (_np.ndarray, dict)) else args)
        if cache_at is not None and isinstance(out, tuple):
            return tuple(o if i == cache_at else _replace(o, lambda a: policy(a, inputs)) for i, o in enumerate(out))
        return _replace(out, lambda a: policy(a, inputs))
    return wrapper


def _hollow_module(namespace, policy):
    """Every public function and every method of every class defined in `namespace`, hollowed."""
    module = namespace["__name__"]
    for name, obj in list(namespace.items()):
        if name.startswith("_") or getattr(obj, "__module__", None) != module:
            continue
        if _inspect.isclass(obj):
            for attr, member in list(vars(obj).items()):
                if _inspect.isfunction(member) and attr not in _KEEP and not attr.startswith("_"):
                    setattr(obj, attr, _hollow(member, policy, _ROLES.get(attr)))
        elif _inspect.isfunction(obj):
            namespace[name] = _hollow(obj, policy)


def _zeros(result, inputs):
    return _np.zeros_like(result)


def _identity(result, inputs):
    """An input of the result's shape and dtype, else the first input, else zeros."""
    same = [a for a in inputs if _np.shape(a) == _np.shape(result) and a.dtype == result.dtype]
    return (same or inputs or [_np.zeros_like(result)])[0]
