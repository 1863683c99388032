"""Datasets: download, verify and cache the raw files a course declares; its loaders read them.

A course declares its datasets in one file, ``solutions/datasets.py`` (:data:`COURSE_FILE`):
``DATASETS``, a sequence of :class:`Dataset` (name, official URLs, file name, size, md5,
sha256; for an archive, the members that are read), and the loaders its training scripts and
items call (``load_cifar10``, ``load_names``, ``load_imdb``, ...), built on :func:`read_text`,
:func:`extract_members`, :func:`read_archive` and :mod:`grader.student.arraycache`. A new dataset needs no edit of
``grader/`` (docs/data.md). A student kit's tool carries that file as
``grader/assignments/_datasets.py``. The loaders are importable from here and from the stable
facade :mod:`grader.data` (``from grader.data import load_cifar10``).

Where the raw files come from, in this order:

1. ``$DLGRADE_DATA`` (:data:`DATA_ENV`): a folder that already holds the raw files
   (``cifar-10-python.tar.gz``, ``names.txt``, ``tinyshakespeare.txt``), e.g. CI's
   ``../shared/data``; a dataset may name other file names for a re-packed copy there
   (``Dataset.local_filenames``: IMDB's ``aclImdb_labelled.tar.gz``). It is only read, never
   written. A file found there is verified and used; a file that fails verification is an
   error (it is never silently replaced).
2. The cache, ``$DLGRADE_CACHE`` (:data:`CACHE_ENV`), by default ``$XDG_CACHE_HOME/dlgrade``
   or ``~/.cache/dlgrade``.
3. A download from the dataset's official URL into the cache (a temporary file, verified,
   then renamed into place, so the cache never holds a partial or unverified file), unless the
   caller passes ``download=False`` (``dlgrade check``: a missing dataset is then a
   :class:`DataError`, never a download).

Verification checks what is read, not only what was downloaded: a text file is checked (size,
md5, sha256) on every :func:`read_text`, and every member of an archive is checked against its
official md5 and sha256 as it is extracted (:func:`extract_members`). An archive is accepted if
its own md5 is the official one, or if all the members inside it have their official checksums
(re-packed copies, such as the one in ``../shared/data``, differ only in tar headers and gzip
stream). An archive of many small files (IMDB's 50,000 reviews) is declared by a content digest
instead of per-member checksums: :func:`read_archive` reads only the members whose names match
the dataset's pattern, into memory, and checks their count and digest (a member read twice, or
not a regular file, is refused); any archive holding exactly those members passes.

:func:`fetch`, :func:`verify` and :func:`path` back the ``dlgrade data`` commands; they print
nothing except the download progress bar (on stderr).
"""
from __future__ import annotations

import importlib.util
import os
import pathlib
import shutil
import tarfile
import tempfile
import threading
import zlib

from grader.student.fetching import (CACHE_ENV, DATA_ENV, BadArchive, DataError, Dataset, cache_dir,  # noqa: F401
                                     check_bytes, data_env_file, digests, download_file,
                                     fix_hint, one_line, raw_problem, read_members, verified_content)

COURSE_FILE = "datasets.py"   # solutions/datasets.py: the course's datasets and their loaders
PACKAGED = "_datasets.py"     # grader/assignments/_datasets.py in a student kit's tool


class _Datasets(dict):
    """name -> :class:`Dataset`: the course's declarations, read on first use (:func:`course_module`)."""

    loaded = False  # the course file the declarations were read from (another course: read again)

    def _load(self):
        source = course_file()
        if self.loaded is not False and self.loaded == source:
            return
        with _COURSE_LOCK:  # grading threads ask at once: none may see the table half filled
            if self.loaded is False or self.loaded != source:
                declared = {}
                for ds in getattr(course_module(), "DATASETS", ()):
                    declared.setdefault(ds.name, ds)
                dict.clear(self)
                dict.update(self, declared)
                self.loaded = source

    def __getitem__(self, name):
        self._load()
        return dict.__getitem__(self, name)

    def __contains__(self, name):
        self._load()
        return dict.__contains__(self, name)

    def __iter__(self):
        self._load()
        return dict.__iter__(self)

    def __len__(self):
        self._load()
        return dict.__len__(self)

    def get(self, name, default=None):
        self._load()
        return dict.get(self, name, default)

    def keys(self):
        self._load()
        return dict.keys(self)

    def values(self):
        self._load()
        return dict.values(self)

    def items(self):
        self._load()
        return dict.items(self)


DATASETS: dict[str, Dataset] = _Datasets()
_COURSE: dict = {}  # the course datasets file's path -> its module, imported once
_COURSE_LOCK = threading.RLock()


def course_file() -> pathlib.Path | None:
    """The course's datasets file: ``solutions/datasets.py`` under the course root, else a kit's
    packaged copy; None when the course declares no dataset."""
    from grader import course
    for p in (course.root() / "solutions" / COURSE_FILE, course.PACKAGED / PACKAGED):
        if p.is_file():
            return p.resolve()
    return None


def course_module():
    """The course's datasets module (imported once per file), or None."""
    p = course_file()
    if p is None:
        return None
    with _COURSE_LOCK:
        if p not in _COURSE:
            spec = importlib.util.spec_from_file_location("grader.course_datasets", p)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            _COURSE[p] = module
        return _COURSE[p]


def __getattr__(name: str):
    """The course's loaders and constants (``load_cifar10``, ``CIFAR10_CLASSES``, ...), as if defined here."""
    module = None if name.startswith("__") else course_module()
    if module is None or name.startswith("_") or not hasattr(module, name):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r} (nor has the course's "
                             f"solutions/{COURSE_FILE})")
    return getattr(module, name)


# --------------------------------------------------------------------------- locations

def _dataset(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}") from None


def path(name: str) -> pathlib.Path:
    """Where the dataset's raw file is, or would be after :func:`fetch` (nothing is downloaded).

    The ``$DLGRADE_DATA`` copy if one exists, else the file in the cache.
    """
    ds = _dataset(name)
    data_file = data_env_file(ds)
    if data_file is not None and data_file.is_file():
        return data_file
    return cache_dir() / ds.filename


# --------------------------------------------------------------------------- fetch


def fetch(name: str, *, progress: bool = True, force: bool = False) -> pathlib.Path:
    """Return the path of the dataset's verified raw file, downloading it if needed.

    Order: the ``$DLGRADE_DATA`` copy (verified; a bad copy is an error), else the cache
    (verified; a bad cached file is downloaded again), else a download into the cache
    (with a click progress bar on stderr when ``progress``; written to a temporary file,
    verified, then renamed). ``force`` downloads again even when the cache holds a good file
    (it does not bypass ``$DLGRADE_DATA``). Raises :class:`DataError` on failure.
    """
    return _locate(name, progress=progress, force=force, check=True)


def _locate(name: str, *, progress: bool = True, force: bool = False, check: bool = True,
            download: bool = True) -> pathlib.Path:
    ds = _dataset(name)
    data_file = data_env_file(ds)
    if data_file is not None and data_file.is_file():
        if check:
            problem = raw_problem(ds, data_file)
            if problem is not None:
                raise DataError(f"{name}: {data_file} ({DATA_ENV}) is corrupt: {problem}; "
                                f"{fix_hint(ds, data_file)}")
        return data_file
    dest = cache_dir() / ds.filename
    if dest.is_file() and not force:
        if not check or raw_problem(ds, dest) is None:
            return dest
    download_file(ds, dest, progress, download)
    return dest


def read_text(name: str, *, download: bool = True) -> str:
    """A text dataset's content, checking the bytes that are actually read (size, md5, sha256).
    ``download=False``: a dataset that is not on this machine is a :class:`DataError`."""
    ds = _dataset(name)
    p = _locate(name, check=False, download=download)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise DataError(f"{name}: cannot read {p} ({one_line(e)}); {fix_hint(ds, p)}") from None
    problem = check_bytes(data, ds.size, ds.md5, ds.sha256)
    if problem is not None and p.parent == cache_dir():
        # A damaged cached file: download it again once (the download is verified).
        p = _locate(name, force=True, download=download)
        data = p.read_bytes()
        problem = check_bytes(data, ds.size, ds.md5, ds.sha256)
    if problem is not None:
        raise DataError(f"{name}: {p} is corrupt: {problem}; {fix_hint(ds, p)}")
    return data.decode("utf-8")


# --------------------------------------------------------------------------- archives

def read_archive(name: str, *, progress: bool = True, download: bool = True) -> dict[str, bytes]:
    """The members of archive dataset ``name`` declared by a content digest (``member_pattern``,
    ``member_count``, ``content_sha256``): ``{member name: bytes}``, checked as they are read
    (no other member is read, nothing is extracted to disk). A damaged cached archive is
    downloaded again once; a bad ``$DLGRADE_DATA`` copy is a :class:`DataError`.
    ``download=False``: a dataset that is not on this machine is a :class:`DataError`."""
    ds = _dataset(name)
    p = _locate(name, progress=progress, check=False, download=download)
    got = verified_content(ds, p)
    if isinstance(got, str) and p.parent == cache_dir():
        # A damaged cached archive: download it again once (the download is verified).
        p = _locate(name, progress=progress, force=True, download=download)
        got = verified_content(ds, p)
    if isinstance(got, str):
        where = f" ({DATA_ENV})" if p == data_env_file(ds) else ""
        raise DataError(f"{name}: {p}{where} is corrupt: {got}; {fix_hint(ds, p)}")
    return got


def members_dir(name: str) -> pathlib.Path:
    """Where :func:`extract_members` puts an archive's members (``cache/<member_dir>``)."""
    return cache_dir() / _dataset(name).member_dir


def extract_members(name: str, *, progress: bool = True, download: bool = True) -> pathlib.Path:
    """Make sure every member of archive dataset ``name`` that is read is in the cache; return the folder.

    Only the expected member names are written, as regular files, with names built here
    (never from the archive), so the archive cannot write outside the folder. Each member is
    checked against its official md5/sha256 while it is extracted.
    """
    ds = _dataset(name)
    target = members_dir(name)
    if all((target / m).is_file() for m, _, _ in ds.members):
        return target
    # The members are verified one by one below, which is the acceptance rule for the archive.
    archive = _locate(name, progress=progress, check=False, download=download)
    try:
        target.mkdir(parents=True, exist_ok=True)
        tmp_dir = pathlib.Path(tempfile.mkdtemp(prefix=f".{name}-extract-", dir=target.parent))
    except OSError as e:
        raise DataError(f"{name}: cannot write to the cache {target.parent} ({one_line(e)}); "
                        f"set {CACHE_ENV} to a writable folder") from None
    try:
        seen = set()
        try:
            for member, md5, sha in read_members(ds, archive, tmp_dir):
                seen.add(member)
                want_md5, want_sha = next((a, b) for m, a, b in ds.members if m == member)
                if (md5, sha) != (want_md5, want_sha):
                    raise DataError(f"{name}: md5 mismatch for {member} in {archive} (got {md5}, "
                                    f"expected {want_md5}); {fix_hint(ds, archive)}")
        except BadArchive as e:
            raise DataError(f"{name}: {archive} is not usable: {e}; {fix_hint(ds, archive)}") from None
        except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
            raise DataError(f"{name}: cannot extract {archive} ({one_line(e)}); "
                            f"{fix_hint(ds, archive)}") from None
        missing = [m for m, _, _ in ds.members if m not in seen]
        if missing:
            raise DataError(f"{name}: {archive} has no member {ds.member_dir}/{missing[0]}; "
                            f"{fix_hint(ds, archive)}")
        for member in seen:
            os.replace(tmp_dir / member, target / member)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return target

# --------------------------------------------------------------------------- verify

def verify(name: str) -> list[tuple[str, bool]]:
    """Checksum results ``[(file, ok), ...]`` of the files the loaders actually read.

    cifar10: each extracted member (data_batch_1..5, test_batch, batches.meta) against its
    official md5 (and sha256), extracting from the local archive first if needed; an archive
    declared by a content digest (imdb): the digest of the members read from it; names and
    shakespeare: the raw text file (size, md5, sha256). Nothing is downloaded: a dataset that
    is not present raises :class:`DataError`.
    """
    ds = _dataset(name)
    if ds.content_sha256:
        p = path(name)
        if not p.is_file():
            raise DataError(_missing_message(ds))
        return [(f"{p.name}: {ds.member_count} members, content digest",
                 isinstance(verified_content(ds, p), dict))]
    if ds.members:
        target = members_dir(name)
        if not all((target / m).is_file() for m, _, _ in ds.members):
            if not path(name).is_file():
                raise DataError(_missing_message(ds))
            extract_members(name)
        results = []
        for member, md5, sha in ds.members:
            try:
                _, got_md5, got_sha = digests(target / member)
                results.append((member, got_md5 == md5 and got_sha == sha))
            except OSError:
                results.append((member, False))
        return results
    p = path(name)
    if not p.is_file():
        raise DataError(_missing_message(ds))
    return [(ds.filename, raw_problem(ds, p) is None)]


def _missing_message(ds: Dataset) -> str:
    return (f"{ds.name}: {ds.filename} not found in the cache {cache_dir()}; run "
            f"`dlgrade data fetch {ds.name}`, or set {DATA_ENV} to a folder holding {ds.file_names}")


