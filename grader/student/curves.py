"""Learning curves: what a training script logs per epoch, written next to its weights.

`mlp_weights.npz` gets `mlp_curve.json`: ``{"epochs": [{"epoch": 1, "loss": 1.79, "val_acc":
0.45, ...}, ...]}``, one row per epoch, every value a finite number. Training scripts call
`write` after every epoch; the class view reads submitted curves with `load`, which accepts
plain numbers only (a curve comes from a student and is never executed or unpickled).

A submitted curve is data, bounded before it is parsed: a regular file only (never a link,
FIFO or device: `read`), at most `MAX_BYTES`, JSON nested at most `MAX_DEPTH` deep, at most
`MAX_EPOCHS` rows of at most `MAX_KEYS` names, every value finite and within ±`MAX_VALUE`.
"""
import json
import os
import re
import stat
from pathlib import Path

from grader.sandbox.wire import dumps

MAX_BYTES = 1 << 20
MAX_EPOCHS = 10_000
MAX_KEYS = 32
MAX_DEPTH = 3           # {"epochs": [{...}]}
MAX_VALUE = 1e9         # larger values are not a loss nor an accuracy (and break plotting: 1e308)


class CurveError(ValueError):
    """A curve file that is not a list of per-epoch numbers."""


def path_for(weights) -> str:
    """`mlp_weights.npz` -> `mlp_curve.json` (same folder)."""
    weights = Path(weights)
    stem = weights.stem[:-len("_weights")] if weights.stem.endswith("_weights") else weights.stem
    return str(weights.with_name(f"{stem}_curve.json"))


def write(weights, rows):
    """Write the rows logged so far (a list of dicts of numbers) next to `weights`, atomically."""
    path = Path(path_for(weights))
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(dumps({"epochs": rows}, indent=1) + "\n")
    os.replace(tmp, path)
    return path


def read(path, cap=MAX_BYTES) -> bytes:
    """The bytes of `path` when it is a regular file of at most `cap` bytes: opened without
    following a link and without blocking (a FIFO or a device is never read), read with a cap."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise CurveError(f"cannot be read ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise CurveError("not a regular file")
        if st.st_size > cap:
            raise CurveError(f"larger than {cap >> 10} kB")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(cap + 1)
    finally:
        os.close(fd)
    if len(data) > cap:
        raise CurveError(f"larger than {cap >> 10} kB")
    return data


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def _depth(text: str) -> int:
    """How deep the JSON arrays and objects of `text` nest (strings skipped), without parsing it."""
    depth = deepest = 0
    for c in re.findall(r"[\[\]{}]", _STRING.sub('""', text)):
        depth += 1 if c in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def load(path) -> list:
    """The validated rows of a curve file: a list of {name: float}, each with an "epoch"."""
    return parse(read(path))


def parse(data: bytes) -> list:
    """The validated rows of a curve file's bytes (see `load`)."""
    if len(data) > MAX_BYTES:
        raise CurveError(f"larger than {MAX_BYTES >> 10} kB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CurveError(f"not valid JSON ({exc})") from None
    if _depth(text) > MAX_DEPTH:
        raise CurveError(f"nested more than {MAX_DEPTH} deep")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:  # ValueError: JSONDecodeError, an int of over 4300 digits
        raise CurveError(f"not valid JSON ({type(exc).__name__})") from None
    rows = data.get("epochs") if isinstance(data, dict) else None
    if not isinstance(rows, list) or len(rows) > MAX_EPOCHS:
        raise CurveError('expected {"epochs": [...]} with at most %d rows' % MAX_EPOCHS)
    out = []
    for row in rows:
        if not isinstance(row, dict) or "epoch" not in row or len(row) > MAX_KEYS or not all(
                isinstance(k, str) and len(k) <= 40 and isinstance(v, (int, float)) and not isinstance(v, bool)
                and abs(v) <= MAX_VALUE for k, v in row.items()):  # False for NaN and inf; an int never overflows
            raise CurveError(f"every row must map at most {MAX_KEYS} names to finite numbers within "
                             f"±{MAX_VALUE:g} and have an 'epoch'")
        out.append({k: float(v) for k, v in row.items()})
    return out
