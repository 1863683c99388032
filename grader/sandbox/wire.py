"""What crosses the process boundary: nested dicts of arrays as `.npz` files, never pickles.

Keys are paths joined with "/" (`"0/grads/W"`). Loading uses `allow_pickle=False` and keeps
only exact `numpy.ndarray`s of plain numeric or boolean dtypes, so nothing a worker writes can
run code or masquerade as a number in the trusted parent. NumPy-only: the worker loads this
module by path.
"""
import json
from pathlib import PurePath

import numpy as np

ALLOWED_KINDS = "biufc"  # bool, signed/unsigned int, float, complex; never object/void/str
MAX_ARRAYS = 100_000


class WireError(ValueError):
    """A worker's output is not a plain array tree."""


def json_default(value):
    """`json.dumps(..., default=json_default)`: the values the engine produces that `json` does not
    know, as plain Python: NumPy scalars (bool, int, float) and arrays (0-d ones as their
    scalar), CuPy arrays, sets (sorted), paths (as strings)."""
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "get") and type(value).__module__.startswith("cupy"):
        value = value.get()
    if isinstance(value, np.ndarray):
        return value.item() if value.ndim == 0 else value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, PurePath):
        return str(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def dumps(obj, **kwargs) -> str:
    """`json.dumps` that accepts every value the engine produces (`json_default`): the one encoder
    of every JSON dlgrade writes (reports, results.json, resume records, learning curves)."""
    return json.dumps(obj, default=json_default, **kwargs)


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


MAX_NPZ_BYTES = 2 << 30  # decompressed, per .npz


def npz_size(data) -> int:
    """The decompressed size an open `numpy.load` .npz archive declares."""
    return sum(info.file_size for info in data.zip.infolist())


def load(path, max_bytes=MAX_NPZ_BYTES):
    """Read an .npz written by `save`, refusing pickles, anything but plain arrays, and archives
    that unpack to more than `max_bytes`."""
    out = {}
    data = np.load(path, allow_pickle=False)
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise WireError("not an .npz archive")
    with data:
        if len(data.files) > MAX_ARRAYS:
            raise WireError(f"too many arrays ({len(data.files)})")
        if npz_size(data) > max_bytes:
            raise WireError(f"unpacks to more than {max_bytes >> 20} MB")
        for key in data.files:
            arr = data[key]
            if type(arr) is not np.ndarray or arr.dtype.kind not in ALLOWED_KINDS:
                raise WireError(f"{key}: not a plain numeric array (dtype {arr.dtype})")
            out[key] = arr
    return unflatten(out)


# --------------------------------------------------------------------------- frames over pipes
# One message: b"DLG2", the lengths of a JSON header and of a body (8 bytes each, little
# endian), then both. The header's "arrays" lists [key, dtype, shape] of the raw C-order array
# bytes concatenated in the body: no pickle, no zip, so a 1 MB array costs a copy, not a
# compression pass. The parent and the sandboxed worker exchange nothing else.
MAGIC = b"DLG2"
HEADER = 20
MAX_JSON = 1 << 22


def frame(header: dict, tree=None) -> bytes:
    return b"".join(frame_parts(header, tree))


def frame_parts(header: dict, tree=None) -> list:
    """A frame as a list of buffers (the arrays' own memory, not copies): for `os.write`."""
    arrays, chunks = [], []
    for key, value in flatten(tree or {}).items():
        arr = to_numpy(value)
        if not arr.flags.c_contiguous:
            arr = arr.copy(order="C")
        if arr.dtype.kind not in ALLOWED_KINDS or arr.dtype.fields is not None:
            continue
        arrays.append([key, arr.dtype.str, list(arr.shape)])
        chunks.append(memoryview(arr).cast("B") if arr.size else b"")
    meta = json.dumps({**header, "arrays": arrays}).encode()
    n_body = sum(len(c) for c in chunks)
    return [MAGIC + len(meta).to_bytes(8, "little") + n_body.to_bytes(8, "little") + meta, *chunks]


def parse_header(head: bytes):
    """(json length, body length) from a frame's first 20 bytes."""
    if len(head) != HEADER or head[:4] != MAGIC:
        raise WireError("not a dlgrade frame")
    n_meta, n_body = int.from_bytes(head[4:12], "little"), int.from_bytes(head[12:20], "little")
    if n_meta > MAX_JSON:
        raise WireError(f"frame header too large ({n_meta} bytes)")
    return n_meta, n_body


def read_frame(read, max_body: int, readinto=None):
    """(header, tree) read with `read(n) -> bytes` (which returns b"" at end of stream), or
    None at a clean end of stream. Arrays are fresh, writable, plain numeric `ndarray`s.
    `readinto(memoryview) -> n` reads the body in place (no copies)."""
    head = _read_exactly(read, HEADER, allow_eof=True)
    if head is None:
        return None
    n_meta, n_body = parse_header(head)
    if n_body > max_body:
        raise WireError(f"frame body too large ({n_body} bytes)")
    meta = json.loads(_read_exactly(read, n_meta))
    if not isinstance(meta, dict) or not isinstance(meta.get("arrays", []), list):
        raise WireError("frame header is not an object")
    if readinto is not None:
        body = bytearray(n_body)
        view, got = memoryview(body), 0
        while got < n_body:
            n = readinto(view[got:])
            if not n:
                raise WireError(f"stream ended inside a frame ({got} of {n_body} bytes)")
            got += n
    else:
        body = _read_exactly(read, n_body) if n_body else b""
    flat, offset = {}, 0
    for entry in meta.pop("arrays", []):
        try:
            key, dtype, shape = entry
            dtype = np.dtype(str(dtype))
            shape = tuple(int(n) for n in shape)
        except (TypeError, ValueError) as exc:
            raise WireError(f"bad array entry: {exc}")
        if dtype.kind not in ALLOWED_KINDS or dtype.fields is not None or dtype.subdtype is not None \
                or any(n < 0 for n in shape) or not isinstance(key, str) or len(flat) >= MAX_ARRAYS:
            raise WireError(f"{key!r}: not a plain numeric array")
        size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if offset + size > len(body):
            raise WireError(f"{key}: frame body too short")
        arr = np.frombuffer(body, dtype=dtype, count=size // dtype.itemsize if dtype.itemsize else 0,
                            offset=offset).reshape(shape)
        flat[key] = arr if isinstance(body, bytearray) and arr.flags.aligned else arr.copy()
        offset += size
    if offset != len(body):
        raise WireError("frame body has trailing bytes")
    return meta, unflatten(flat)


def _read_exactly(read, n, allow_eof=False):
    chunks, got = [], 0
    while got < n:
        chunk = read(min(n - got, 1 << 20))
        if not chunk:
            if allow_eof and got == 0:
                return None
            raise WireError(f"stream ended inside a frame ({got} of {n} bytes)")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)
