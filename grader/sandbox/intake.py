"""A submission's files as the worker gets them: its regular `.py` files and the named data
files, read without following links, capped in size and count (`submission_files`), and
written into the worker's private copy (`write_files`)."""
import os
import stat
from pathlib import Path


MAX_FILE = 64 << 20        # per copied file
MAX_SOURCE = 2 << 20       # per .py file
MAX_TOTAL = 256 << 20      # per submission
MAX_FILES = 500
MAX_DEPTH = 16             # folders below the submission's root that are read


class SubmissionError(ValueError):
    """A submission folder that cannot be copied safely (one-line message)."""


def _read_regular(path: Path, cap: int) -> bytes:
    """The bytes of `path` if it is a regular file (never a symlink, FIFO or device) of at most
    `cap` bytes; raises SubmissionError otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise SubmissionError(f"{path.name}: cannot be read ({exc.strerror})")
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SubmissionError(f"{path.name}: not a regular file")
        if st.st_size > cap:
            raise SubmissionError(f"{path.name}: larger than {cap >> 20} MB")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(cap + 1)
        if len(data) > cap:
            raise SubmissionError(f"{path.name}: larger than {cap >> 20} MB")
        return data
    finally:
        os.close(fd)


def submission_files(src: Path, extra=(), *, links_within=None, skipped=None):
    """{relative path: bytes} of a submission's `.py` files and of the named data files.

    Walks without following links; symbolic links, FIFOs, devices, dot-folders and
    `__pycache__` are skipped (their names appended to `skipped`), except links to regular
    files when both the link and its target lie inside `links_within` (the course's own
    `solutions/`, whose later assignments link to earlier ones); files and the submission are
    capped in size and count."""
    src = Path(src)
    skipped = [] if skipped is None else skipped
    out, total = {}, 0
    for dirpath, dirnames, filenames in os.walk(src, followlinks=False):
        rel_dir = Path(dirpath).relative_to(src)
        # os.walk recurses: a folder nested past MAX_DEPTH is not read (nor walked into)
        dirnames[:] = [] if len(rel_dir.parts) >= MAX_DEPTH else sorted(
            d for d in dirnames if not d.startswith(".") and d != "__pycache__"
            and not os.path.islink(os.path.join(dirpath, d)))
        for name in sorted(filenames):
            rel = rel_dir / name
            if not name.endswith(".py") and str(rel) not in extra:
                continue
            if name.startswith("."):
                continue
            path = Path(dirpath, name)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode) and links_within is not None and _inside(path, links_within):
                path = Path(os.path.realpath(path))
            elif not stat.S_ISREG(st.st_mode):  # a link, FIFO or device: never read
                skipped.append(str(rel))
                continue
            data = _read_regular(path, MAX_SOURCE if name.endswith(".py") else MAX_FILE)
            total += len(data)
            if len(out) >= MAX_FILES or total > MAX_TOTAL:
                raise SubmissionError(f"more than {MAX_FILES} files or {MAX_TOTAL >> 20} MB")
            out[str(rel)] = data
    return out


def _inside(link: Path, root: Path) -> bool:
    root = Path(os.path.realpath(root))
    return (Path(os.path.realpath(link.parent)).is_relative_to(root)
            and Path(os.path.realpath(link)).is_relative_to(root))


def write_files(files: dict, dst: Path):
    for rel, data in files.items():
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        (dst / rel).write_bytes(data)
