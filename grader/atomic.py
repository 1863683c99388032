"""The one way dlgrade writes a file that others read: a temporary file in the same folder, flushed
to disk, then a rename. Readers see the old file or the new one, never half of one, and a link
left at the path is replaced, never written through. Errors are `OSError`s, as `open` raises."""
import os
import tempfile
from pathlib import Path


def write(path, data, *, make_parents: bool = False) -> Path:
    """Write `data` (str as UTF-8, or bytes) to `path` atomically; the folder must exist unless
    `make_parents`."""
    path = Path(path)
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
