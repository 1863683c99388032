"""Learning curves: what a training script logs per epoch, written next to its weights.

`mlp_weights.npz` gets `mlp_curve.json`: ``{"epochs": [{"epoch": 1, "loss": 1.79, "val_acc":
0.45, ...}, ...]}``, one row per epoch, every value a finite number. Training scripts call
`write` after every epoch; the class view reads submitted curves with `load`, which accepts
plain numbers only (a curve comes from a student and is never executed or unpickled).
"""
import json
import math
import os
from pathlib import Path

from .wire import dumps

MAX_BYTES = 1 << 20
MAX_EPOCHS = 10_000


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


def load(path) -> list:
    """The validated rows of a curve file: a list of {name: float}, each with an "epoch"."""
    path = Path(path)
    if path.stat().st_size > MAX_BYTES:
        raise CurveError(f"larger than {MAX_BYTES >> 10} kB")
    try:
        data = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CurveError(f"not valid JSON ({exc})") from None
    rows = data.get("epochs") if isinstance(data, dict) else None
    if not isinstance(rows, list) or len(rows) > MAX_EPOCHS:
        raise CurveError('expected {"epochs": [...]} with at most %d rows' % MAX_EPOCHS)
    out = []
    for row in rows:
        if not isinstance(row, dict) or "epoch" not in row or not all(
                isinstance(k, str) and len(k) <= 40 and isinstance(v, (int, float)) and not isinstance(v, bool)
                and math.isfinite(v) for k, v in row.items()):
            raise CurveError("every row must map names to finite numbers and have an 'epoch'")
        out.append({k: float(v) for k, v in row.items()})
    return out
