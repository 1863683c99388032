"""A CPU stand-in for CuPy, for tests only: `import cupy` with `tests/fakecupy` on the path.

Arrays are a distinct type, `cupy.ndarray`, holding a NumPy array; every operation computes with
NumPy and returns `cupy.ndarray`s. It mirrors what CuPy (the version in `api.json`, written by
`make_api.py` from the real package) accepts and refuses, so that code which would break on a
GPU breaks here too:
- only the names real CuPy has exist (`cupy.*`, `cupy.linalg`, `cupy.random`,
  `cupy.lib.stride_tricks`, `ndarray` methods, `cupy.random.Generator` methods), with CuPy's
  keyword arguments where CuPy declares them;
- no implicit host/device conversion: `numpy.asarray(a)` raises TypeError as CuPy does
  ("use .get()"); a NumPy array mixed into a CuPy function, ufunc or operator raises TypeError;
  assigning a non-scalar NumPy array into a CuPy array raises ValueError;
- NumPy functions on CuPy arrays dispatch to the CuPy function of the same name
  (`__array_function__`) and fail where CuPy has none; NumPy ufuncs dispatch likewise
  (`__array_ufunc__`), with `ufunc.at` only for add/subtract/maximum/minimum/bitwise ops and
  `reduce`/`accumulate` only for add and multiply, as in CuPy;
- reductions and integer indexing return 0-d arrays, not scalars; there is no `__index__`;
- `cupy.random.default_rng(seed)` draws from another stream than `numpy.random.default_rng(seed)`,
  and its Generator has only CuPy's methods (no `choice`, `permutation`, `shuffle`).

What it cannot show: anything about GPUs themselves (speed, memory, kernels, asynchrony,
float32 matmul and reduction order, atomics, CUDA in the sandbox). `cupy.__fake__` is True.
"""
import builtins as _b
import functools
import json
import sys
import time
import types
from pathlib import Path

import numpy as _np

__fake__ = True
_API = json.loads(Path(__file__).with_name("api.json").read_text())
__version__ = _API["version"] + "+cpu-stand-in"

_TRANSFER = {"array", "asarray", "asanyarray"}   # host -> device: NumPy input allowed
_AT = {"add", "subtract", "maximum", "minimum", "bitwise_and", "bitwise_or", "bitwise_xor"}
_REDUCE = {"add", "multiply"}
_REDUCEAT = {"add"}
_KWARGS = {"einsum": ["dtype", "optimize"]}  # CuPy's **kwargs that it checks itself


def _host_error(x):
    return TypeError(f"Unsupported type {type(x)}: a NumPy array cannot be used in a CuPy operation "
                     "(move it with cupy.asarray, or back with .get())")


def _unwrap(x):
    """NumPy view of a CuPy-stand-in argument; NumPy arrays refused, containers walked."""
    if type(x) is ndarray:
        return x._a
    if isinstance(x, _np.ndarray):
        raise _host_error(x)
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(v) for v in x)
    return x


def _host(x):
    """The NumPy data of an argument that may mix stand-in arrays, NumPy arrays and lists (for
    the transfer functions only: cupy.asarray takes host data)."""
    if type(x) is ndarray:
        return x._a
    if isinstance(x, (list, tuple)):
        return type(x)(_host(v) for v in x)
    return x


def _wrap(r):
    if isinstance(r, _np.ndarray):
        return ndarray._of(r)
    if isinstance(r, _np.generic):  # CuPy returns 0-d arrays where NumPy returns scalars
        return ndarray._of(_np.asarray(r))
    if isinstance(r, tuple):
        return tuple(_wrap(v) for v in r)
    if isinstance(r, list):
        return [_wrap(v) for v in r]
    return r


def _check_kwargs(name, params, kwargs):
    if params is not None:
        bad = sorted(set(kwargs) - set(params))
        if bad:
            raise TypeError(f"{name}() got an unexpected keyword argument {bad[0]!r} (CuPy has no such option)")


def _out(kwargs):
    """kwargs for NumPy: stand-in arrays unwrapped; `out` must be a stand-in array, as in CuPy."""
    kwargs = dict(kwargs)
    out = kwargs.pop("out", None)
    if isinstance(out, tuple):
        out = out[0] if len(out) == 1 else out
    kwargs = {k: _unwrap(v) for k, v in kwargs.items()}
    if out is not None:
        if type(out) is not ndarray:
            raise TypeError("Output arguments must be cupy.ndarray")
        kwargs["out"] = out._a
    return kwargs


def _function(name, np_func, params, transfer=False):
    @functools.wraps(np_func)
    def f(*args, **kwargs):
        _check_kwargs(name, params, kwargs)
        kwargs = _out(kwargs)
        if transfer:  # host -> device: NumPy input allowed; asarray keeps a stand-in array as it is
            if args and type(args[0]) is ndarray and name != "array" and not kwargs.get("dtype"):
                return args[0]
            return ndarray._of(_np.asarray(np_func(*(_host(a) for a in args), **kwargs)))
        return _wrap(np_func(*_unwrap(args), **kwargs))
    f.__module__ = "cupy"
    return f


class ufunc:
    """A NumPy ufunc on stand-in arrays, with the methods CuPy supports for it."""

    def __init__(self, np_ufunc):
        self._u = np_ufunc
        self.__name__ = np_ufunc.__name__
        self.nin, self.nout = np_ufunc.nin, np_ufunc.nout

    def _args(self, args):
        if self.__name__ in ("greater", "greater_equal", "less", "less_equal", "equal", "not_equal"):
            args = tuple(a.item() if isinstance(a, _np.ndarray) and a.ndim == 0 else a for a in args)
        return _unwrap(args)

    def __call__(self, *args, **kwargs):
        return _wrap(self._u(*self._args(args), **_out(kwargs)))

    def at(self, a, indices, b=None):
        if self.__name__ not in _AT:
            raise NotImplementedError(f"`cupy_{self.__name__}.at` is not supported yet")
        if type(a) is not ndarray:
            raise TypeError("Argument 'self' has incorrect type")
        idx = _index(indices)
        self._u.at(a._a, idx, *(() if b is None else (_unwrap(b),)))

    def reduce(self, array, axis=0, dtype=None, out=None, keepdims=False):
        if self.__name__ not in _REDUCE:
            raise NotImplementedError(f"`cupy_{self.__name__}.reduce` is not supported yet")
        return _wrap(self._u.reduce(_unwrap(array), axis, dtype, **_out({"out": out}), keepdims=keepdims))

    def accumulate(self, array, axis=0, dtype=None, out=None):
        if self.__name__ not in _REDUCE:
            raise NotImplementedError(f"`cupy_{self.__name__}.accumulate` is not supported yet")
        return _wrap(self._u.accumulate(_unwrap(array), axis, dtype, **_out({"out": out})))

    def reduceat(self, array, indices, axis=0, dtype=None, out=None):
        if self.__name__ not in _REDUCEAT:
            raise NotImplementedError(f"`cupy_{self.__name__}.reduceat` is not supported yet")
        return _wrap(self._u.reduceat(_unwrap(array), _index(indices), axis, dtype, **_out({"out": out})))

    def outer(self, A, B, **kwargs):
        return _wrap(self._u.outer(*_unwrap((A, B)), **_out(kwargs)))

    def __repr__(self):
        return f"<ufunc 'cupy_{self.__name__}'>"


def _index(key):
    """An index for the underlying array: stand-in arrays unwrapped; NumPy arrays and lists are
    allowed in indices (CuPy copies them to the device)."""
    if type(key) is ndarray:
        return key._a
    if isinstance(key, tuple):
        return tuple(_index(k) for k in key)
    return key


class _Flags:
    def __init__(self, a):
        self.c_contiguous, self.f_contiguous, self.owndata = (
            a.flags.c_contiguous, a.flags.f_contiguous, a.flags.owndata)

    def __getitem__(self, name):
        return {"C_CONTIGUOUS": self.c_contiguous, "F_CONTIGUOUS": self.f_contiguous,
                "OWNDATA": self.owndata}[name]


def _binary(name, reflected=False, inplace=False):
    def op(self, other):
        u = _UFUNCS[name]
        if inplace:
            return u(self, other, out=self)
        return u(other, self) if reflected else u(self, other)
    return op


class ndarray:
    """A 'device' array: a NumPy array that refuses to mix with NumPy arrays implicitly."""

    __slots__ = ("_a",)
    __array_priority__ = 100

    def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
        self._a = _np.empty(shape, dtype=dtype, order=order)

    @classmethod
    def _of(cls, a):
        obj = object.__new__(cls)
        obj._a = a
        return obj

    # -- no implicit conversion, as CuPy
    def __array__(self, dtype=None, copy=None):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. "
                        "Please use `.get()` to construct a NumPy array explicitly.")

    def __array_ufunc__(self, np_ufunc, method, *inputs, **kwargs):
        u = _UFUNCS.get(np_ufunc.__name__)
        if u is None:
            return NotImplemented
        if method != "__call__":
            if method not in ("outer", "at", "reduce", "accumulate", "reduceat"):
                return NotImplemented
            return getattr(u, method)(*inputs, **{k: (v[0] if k == "out" and isinstance(v, tuple) else v)
                                                  for k, v in kwargs.items()})
        return u(*inputs, **kwargs)

    def __array_function__(self, func, types_, args, kwargs):
        try:
            module = functools.reduce(getattr, func.__module__.split(".")[1:], sys.modules[__name__])
            ours = getattr(module, func.__name__)
        except AttributeError:
            return NotImplemented
        if not _b.all(issubclass(t, (ndarray, _np.ndarray)) for t in types_):
            return NotImplemented
        return ours(*args, **kwargs)

    # -- attributes
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    strides = property(lambda self: self._a.strides)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    flags = property(lambda self: _Flags(self._a))
    T = property(lambda self: ndarray._of(self._a.T))
    mT = property(lambda self: ndarray._of(self._a.mT))
    real = property(lambda self: ndarray._of(self._a.real))
    imag = property(lambda self: ndarray._of(self._a.imag))
    base = property(lambda self: None if self._a.base is None else ndarray._of(_np.asarray(self._a.base)))
    device = property(lambda self: cuda.Device(0))

    def __getattr__(self, name):
        if name not in _API["ndarray"]:
            raise AttributeError(f"'cupy.ndarray' object has no attribute {name!r}")
        method = getattr(self._a, name, None)
        if method is None:
            raise AttributeError(f"the CPU stand-in does not implement ndarray.{name}")
        params = _API["ndarray"][name]

        def call(*args, **kwargs):
            _check_kwargs(f"ndarray.{name}", params, kwargs)
            return _wrap(method(*_unwrap(args), **_out(kwargs)))
        return call

    # -- CuPy's own methods
    def get(self, stream=None, order="C", out=None, blocking=True):
        if out is not None:
            out[...] = self._a
            return out
        return _np.array(self._a, order=order, copy=True)

    def set(self, arr, stream=None):
        if not isinstance(arr, _np.ndarray) or arr.shape != self.shape:
            raise ValueError("set needs a NumPy array of the same shape")
        self._a[...] = arr

    def item(self, *args):
        return self._a.item(*args)

    def tolist(self):
        return self._a.tolist()

    def fill(self, value):
        self._a.fill(_scalar(value))

    def scatter_add(self, slices, value):
        _np.add.at(self._a, _index(slices), _unwrap(value))

    def scatter_max(self, slices, value):
        _np.maximum.at(self._a, _index(slices), _unwrap(value))

    def scatter_min(self, slices, value):
        _np.minimum.at(self._a, _index(slices), _unwrap(value))

    # -- containers
    def __len__(self):
        if self._a.ndim == 0:
            raise TypeError("len() of unsized object")
        return len(self._a)

    def __iter__(self):
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self._a)))

    def __getitem__(self, key):
        key = _index(key)
        r = self._a[key]
        if isinstance(r, _np.generic):  # an element: a 0-d view, as CuPy
            r = self._a[(key if isinstance(key, tuple) else (key,)) + (Ellipsis,)]
        return ndarray._of(r)

    def __setitem__(self, key, value):
        if type(value) is ndarray:
            self._a[_index(key)] = value._a
        else:
            self._a[_index(key)] = _scalar(value)

    # -- conversions
    def __bool__(self):
        return _b.bool(self._a)

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __complex__(self):
        return complex(self._a)

    def __repr__(self):
        return repr(self._a)

    def __str__(self):
        return str(self._a)

    def __format__(self, spec):
        return format(self._a, spec)

    __hash__ = None

    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo):
        return self.copy()

    def __reduce__(self):
        return array, (self.get(),)

    def __neg__(self):
        return negative(self)

    def __pos__(self):
        return positive(self)

    def __abs__(self):
        return absolute(self)

    def __invert__(self):
        return invert(self)


def _scalar(value):
    """A value CuPy assigns into an array: a scalar or a 0-d array (never a non-scalar NumPy array)."""
    if type(value) is ndarray:
        if value.shape != ():
            raise ValueError("non-scalar cupy.ndarray cannot be used for fill")
        return value._a[()]
    value = _np.asarray(value)
    if value.shape != ():
        raise ValueError("non-scalar numpy.ndarray cannot be used for fill")
    return value[()]


_OPS = {"add": "add", "sub": "subtract", "mul": "multiply", "truediv": "true_divide",
        "floordiv": "floor_divide", "mod": "remainder", "pow": "power", "matmul": "matmul",
        "and": "bitwise_and", "or": "bitwise_or", "xor": "bitwise_xor", "lshift": "left_shift",
        "rshift": "right_shift"}
_CMP = {"lt": "less", "le": "less_equal", "gt": "greater", "ge": "greater_equal", "eq": "equal", "ne": "not_equal"}


def _module(name, doc):
    m = types.ModuleType(name, doc)
    sys.modules[name] = m
    return m


def _populate(namespace, api, np_namespace):
    for name, entry in api.items():
        kind = entry["kind"]
        if kind == "module" or hasattr(namespace, name):
            continue
        np_value = getattr(np_namespace, name, None)
        if kind == "ufunc" and isinstance(np_value, _np.ufunc):
            setattr(namespace, name, ufunc(np_value))
        elif kind == "function" and callable(np_value) and not isinstance(np_value, type):
            setattr(namespace, name, _function(name, np_value, _KWARGS.get(name, entry.get("params")), name in _TRANSFER))
        elif kind in ("type", "value") and np_value is not None:
            setattr(namespace, name, np_value)


_this = sys.modules[__name__]
_populate(_this, _API["cupy"], _np)
_UFUNCS = {name: value for name, value in vars(_this).items() if isinstance(value, ufunc)}
_UFUNCS["matmul"] = ufunc(_np.matmul)  # a function in CuPy (a gufunc), a ufunc in NumPy
for _dunder, _name in _OPS.items():
    if _name in _UFUNCS:
        setattr(ndarray, f"__{_dunder}__", _binary(_name))
        setattr(ndarray, f"__r{_dunder}__", _binary(_name, reflected=True))
        setattr(ndarray, f"__i{_dunder}__", _binary(_name, inplace=True))
for _dunder, _name in _CMP.items():
    setattr(ndarray, f"__{_dunder}__", _binary(_name))

linalg = _module(__name__ + ".linalg", "Stand-in for cupy.linalg")
_populate(linalg, _API["cupy.linalg"], _np.linalg)
lib = _module(__name__ + ".lib", "Stand-in for cupy.lib")
lib.stride_tricks = _module(__name__ + ".lib.stride_tricks", "Stand-in for cupy.lib.stride_tricks")
_populate(lib.stride_tricks, _API["cupy.lib.stride_tricks"], _np.lib.stride_tricks)


# --------------------------------------------------------------------------- cupy-only functions
def asnumpy(a, stream=None, order="C", out=None, blocking=True):
    if type(a) is ndarray:
        return a.get(order=order, out=out)
    return _np.asarray(a, order=order)


def get_array_module(*args):
    return _this if _b.any(type(a) is ndarray for a in args) else _np


class _MemoryPool:
    def __init__(self):
        self._limit = 0

    def set_limit(self, size=None, fraction=None):
        self._limit = int(size or 0)

    def get_limit(self):
        return self._limit

    def used_bytes(self):
        return 0

    def total_bytes(self):
        return 0

    def free_all_blocks(self, stream=None):
        pass


_pool, _pinned_pool = _MemoryPool(), _MemoryPool()


def get_default_memory_pool():
    return _pool


def get_default_pinned_memory_pool():
    return _pinned_pool


def is_available():
    return True


# --------------------------------------------------------------------------- cupy.random
random = _module(__name__ + ".random", "Stand-in for cupy.random: other streams than NumPy's")
_STREAM = 0x6375_7079  # mixed into seeds: the stand-in's numbers differ from NumPy's for a seed


class Generator:
    """cupy.random.Generator: the methods CuPy has, drawing from a stream of its own."""

    def __init__(self, bit_generator):
        self._g = _np.random.Generator(bit_generator)

    def __getattr__(self, name):
        if name not in _API["Generator"]:
            raise AttributeError(f"'cupy.random.Generator' object has no attribute {name!r}")
        method, params = getattr(self._g, name), _API["Generator"][name]

        def call(*args, **kwargs):
            _check_kwargs(f"Generator.{name}", params, kwargs)
            out = kwargs.pop("out", None)
            r = ndarray._of(_np.asarray(method(*_unwrap(args), **{k: _unwrap(v) for k, v in kwargs.items()})))
            if out is not None:
                out[...] = r
                return out
            return r
        return call


def _default_rng(seed=None):
    if isinstance(seed, Generator):
        return seed
    return Generator(_np.random.Philox(_np.random.SeedSequence([_STREAM] + list(_np.atleast_1d(
        _np.asarray(0 if seed is None else seed, dtype=_np.uint64)).tolist()))))


random.Generator, random.default_rng = Generator, _default_rng
_legacy = _np.random.RandomState(_np.random.MT19937(_np.random.SeedSequence(_STREAM)))


def _seed(seed=None):
    global _legacy
    _legacy = _np.random.RandomState(_np.random.MT19937(_np.random.SeedSequence([_STREAM, int(seed or 0)])))


def _legacy_function(name):
    def f(*args, **kwargs):
        return _wrap(getattr(_legacy, name)(*_unwrap(args), **kwargs))
    f.__name__ = name
    return f


random.seed = _seed
for _name, _entry in _API["cupy.random"].items():
    if _entry["kind"] == "function" and not hasattr(random, _name) and hasattr(_legacy, _name):
        setattr(random, _name, _legacy_function(_name))


# --------------------------------------------------------------------------- cupy.cuda
cuda = _module(__name__ + ".cuda", "Stand-in for cupy.cuda: one pretend device, nothing asynchronous")
cuda.runtime = _module(__name__ + ".cuda.runtime", "Stand-in for cupy.cuda.runtime")
cuda.runtime.getDeviceCount = lambda: 1
cuda.runtime.deviceSynchronize = lambda: None
cuda.runtime.CUDARuntimeError = type("CUDARuntimeError", (RuntimeError,), {})
cuda.is_available = is_available
cuda.get_elapsed_time = lambda start, end: (end._t - start._t) * 1e3


class Device:
    def __init__(self, device=None):
        self.id = int(device or 0)

    def synchronize(self):
        pass

    def use(self):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __int__(self):
        return self.id


class Event:
    def __init__(self, block=False, disable_timing=False, interprocess=False):
        self._t = None

    def record(self, stream=None):
        self._t = time.perf_counter()

    def synchronize(self):
        pass


class Stream:
    def __init__(self, null=False, non_blocking=False, ptds=False):
        pass

    def synchronize(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


Stream.null = Stream(null=True)
cuda.Device, cuda.Event, cuda.Stream = Device, Event, Stream
cuda.get_current_stream = lambda device=None: Stream.null
