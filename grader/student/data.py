"""Datasets: download, verify, cache and load CIFAR-10, makemore names and tiny Shakespeare.

Where the raw files come from, in this order:

1. ``$DLGRADE_DATA`` (:data:`DATA_ENV`): a folder that already holds the raw files
   (``cifar-10-python.tar.gz``, ``names.txt``, ``tinyshakespeare.txt``), e.g. CI's
   ``../shared/data``. It is only read, never written. A file found there is verified and
   used; a file that fails verification is an error (it is never silently replaced).
2. The cache, ``$DLGRADE_CACHE`` (:data:`CACHE_ENV`), by default ``$XDG_CACHE_HOME/dlgrade``
   or ``~/.cache/dlgrade``.
3. A download from the dataset's official URL into the cache (a temporary file, verified,
   then renamed into place, so the cache never holds a partial or unverified file).

Verification checks what is read, not only what was downloaded: the text files are
checked (size, md5, sha256) on every load, and every CIFAR-10 batch file is checked
against its official md5 (the list torchvision uses) and sha256 before it is unpickled.
A CIFAR-10 archive is accepted if its own md5 is the official one, or if all the batch
members inside it have their official checksums (re-packed copies, such as the one in
``../shared/data``, differ only in tar headers and gzip stream).

Derived files in the cache: ``cifar-10-batches-py/`` (the extracted batches, extracted by
name only, never with ``extractall``) and ``cifar10.npz``: the decoded arrays, written once
(uint8 images, int64 labels, no pickle, loaded with ``allow_pickle=False``) and verified
against the sha256 of the official decoded arrays (:data:`_CIFAR_ARRAY_SHA256`) when a process
first reads it, and again whenever the file changes (:data:`_VERIFIED`), so a stale, damaged or
altered file is never used: it is rebuilt from the verified batches. Loading the test split
from it costs tens of milliseconds instead of seconds of decoding; later loads in the same
process reuse the verified, read-only arrays.

Splits (all deterministic):

* CIFAR-10: ``train`` = the first 49000 images of ``data_batch_1`` .. ``data_batch_5`` in
  order, ``val`` = the last 1000 (the end of ``data_batch_5``), ``test`` = ``test_batch``.
* names: the lines of ``names.txt`` (duplicates kept, 32033 names) are permuted with
  ``np.random.default_rng(42).permutation(n)``; ``test`` = the first ``min(1000, n // 10)``
  names of the permutation, ``val`` = the next as many, ``train`` = the rest, each in
  permutation order.
* Shakespeare: contiguous character ranges, ``train`` = ``text[:n*8//10]``,
  ``val`` = ``text[n*8//10:n*9//10]``, ``test`` = ``text[n*9//10:]``.

:func:`fetch`, :func:`verify` and :func:`path` back the ``dlgrade data`` commands; they print
nothing except the download progress bar (on stderr).
"""
from __future__ import annotations

import dataclasses
import hashlib
import http.client
import io
import os
import pathlib
import pickle
import shutil
import sys
import tarfile
import tempfile
import threading
import urllib.error
import urllib.request
import zipfile
import zlib

import click
import numpy as np

DATA_ENV = "DLGRADE_DATA"
CACHE_ENV = "DLGRADE_CACHE"
# `dlgrade check` sets this to False: a missing dataset is then a DataError, never a download.
DOWNLOADS_ALLOWED = True

_CHUNK = 1 << 20


class DataError(Exception):
    """A dataset is missing, corrupt or cannot be downloaded (the message says what to do)."""


@dataclasses.dataclass(frozen=True)
class Dataset:
    """One dataset's raw download and the checksums it must match.

    ``members`` (CIFAR-10 only) lists ``(file name, md5, sha256)`` of the files inside the
    archive that are read; they live under ``member_dir`` in the archive.
    """

    name: str
    urls: tuple[str, ...]
    filename: str
    size: int
    md5: str
    sha256: str
    members: tuple[tuple[str, str, str], ...] = ()
    member_dir: str = ""
    description: str = ""

    @property
    def url(self) -> str:
        return self.urls[0]

    @property
    def member_md5(self) -> dict[str, str]:
        return {m: md5 for m, md5, _ in self.members}


DATASETS: dict[str, Dataset] = {
    "cifar10": Dataset(
        name="cifar10",
        urls=("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
        filename="cifar-10-python.tar.gz",
        size=170498071,
        md5="c58f30108f718f92721af3b95e74349a",
        sha256="6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
        # md5s as listed by torchvision (torchvision/datasets/cifar.py); sha256 of the same bytes.
        members=(
            ("data_batch_1", "c99cafc152244af753f735de768cd75f",
             "54636561a3ce25bd3e19253c6b0d8538147b0ae398331ac4a2d86c6d987368cd"),
            ("data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec",
             "766b2cef9fbc745cf056b3152224f7cf77163b330ea9a15f9392beb8b89bc5a8"),
            ("data_batch_3", "54ebc095f3ab1f0389bbae665268c751",
             "0f00d98ebfb30b3ec0ad19f9756dc2630b89003e10525f5e148445e82aa6a1f9"),
            ("data_batch_4", "634d18415352ddfa80567beed471001a",
             "3f7bb240661948b8f4d53e36ec720d8306f5668bd0071dcb4e6c947f78e9682b"),
            ("data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb",
             "d91802434d8376bbaeeadf58a737e3a1b12ac839077e931237e0dcd43adcb154"),
            ("test_batch", "40351d587109b95175f43aff81a1287e",
             "f53d8d457504f7cff4ea9e021afcf0e0ad8e24a91f3fc42091b8adef61157831"),
            ("batches.meta", "5ff9c542aee3614f3951f8cda6e48888",
             "f962466ef690d46b226450fb9aadc74ba4bc64a76aa526b5827fe4bc5c7125cb"),
        ),
        member_dir="cifar-10-batches-py",
        description="CIFAR-10 (Krizhevsky 2009), python version",
    ),
    "names": Dataset(
        name="names",
        urls=("https://raw.githubusercontent.com/karpathy/makemore/master/names.txt",),
        filename="names.txt",
        size=228145,
        md5="401b3c4cac9e28a586ed15e81256680d",
        sha256="0a30b5557f192f32ab962680889aac5f6fda0f4cecf40a6d0b5694f58ea8cc4d",
        description="makemore names (32033 lowercase names, one per line)",
    ),
    "shakespeare": Dataset(
        name="shakespeare",
        urls=("https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",),
        filename="tinyshakespeare.txt",
        size=1115394,
        md5="6fb458f1232090904fb40fe944165e91",
        sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        description="tiny Shakespeare (char-rnn, 1115394 characters)",
    ),
}

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
# Per-channel mean and (population) standard deviation of x / 255 over the 49000 training
# images (the "train" split, not all 50000), computed in float64 from the official batches;
# tests/grader/test_data.py recomputes them.
CIFAR10_MEAN = np.array([0.49131546, 0.48209456, 0.44646743], dtype=np.float32).reshape(3, 1, 1)
CIFAR10_STD = np.array([0.24703370, 0.24351030, 0.26159205], dtype=np.float32).reshape(3, 1, 1)
CIFAR10_MEAN.flags.writeable = False
CIFAR10_STD.flags.writeable = False

_CIFAR_TRAIN = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5")
_CIFAR_N_TRAIN = 49000
_NPZ_NAME = "cifar10.npz"
_NPZ_VERSION = 1
# sha256 of the decoded arrays' bytes (C order; labels as little-endian int64), computed from
# batches that matched the official md5s above: any file holding exactly these arrays is
# CIFAR-10, whichever archive (official or re-packed) it was decoded from.
_CIFAR_ARRAY_SHA256 = {
    "x_train": "9d5c2eddadb0deff02c14c350c0385aab7b1d5ff1edfeb4997c8dc8644960111",
    "y_train": "f5cfe00b0f00968c0cc5ff3b1d2de51b10e33efa277c2986f4e0fa63e58c9f4f",
    "x_test": "177777c33ba79825320efa646ad04a94bdc3c80e4ebe3bd21724f8cdfd4b9d56",
    "y_test": "cbb7365de8ed11f05cc4c3a1e7f78144127c5e851efd83762fb18202461230bb",
}
_NAMES_SEED = 42


# --------------------------------------------------------------------------- locations

def _dataset(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}") from None


def cache_dir() -> pathlib.Path:
    """The cache root: ``$DLGRADE_CACHE``, else ``$XDG_CACHE_HOME/dlgrade``, else ``~/.cache/dlgrade``.

    It is not created here (writers create it when they need it).
    """
    env = os.environ.get(CACHE_ENV)
    if env:
        return pathlib.Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = pathlib.Path(xdg).expanduser() if xdg else pathlib.Path.home() / ".cache"
    return base / "dlgrade"


def _data_env_file(ds: Dataset) -> pathlib.Path | None:
    env = os.environ.get(DATA_ENV)
    if not env:
        return None
    return pathlib.Path(env).expanduser() / ds.filename


def path(name: str) -> pathlib.Path:
    """Where the dataset's raw file is, or would be after :func:`fetch` (nothing is downloaded).

    The ``$DLGRADE_DATA`` copy if one exists, else the file in the cache.
    """
    ds = _dataset(name)
    data_file = _data_env_file(ds)
    if data_file is not None and data_file.is_file():
        return data_file
    return cache_dir() / ds.filename


def _fix_hint(ds: Dataset, p: pathlib.Path) -> str:
    data_file = _data_env_file(ds)
    if data_file is not None and p == data_file:
        return f"replace it with a good copy, or unset {DATA_ENV} to use the cache"
    return f"delete it and run `dlgrade data fetch {ds.name}`"


# --------------------------------------------------------------------------- checksums

def _digests(p: pathlib.Path) -> tuple[int, str, str]:
    md5, sha = hashlib.md5(), hashlib.sha256()
    size = 0
    with open(p, "rb") as f:
        while chunk := f.read(_CHUNK):
            size += len(chunk)
            md5.update(chunk)
            sha.update(chunk)
    return size, md5.hexdigest(), sha.hexdigest()


def _check_bytes(data: bytes, size: int | None, md5: str, sha256: str) -> str | None:
    """None if ``data`` matches, else a short reason."""
    if size is not None and len(data) != size:
        return f"size {len(data)} (expected {size})"
    got = hashlib.md5(data).hexdigest()
    if got != md5:
        return f"md5 {got} (expected {md5})"
    if hashlib.sha256(data).hexdigest() != sha256:
        return "sha256 mismatch"
    return None


def _archive_member_problem(ds: Dataset, archive: pathlib.Path) -> str | None:
    """Check every expected member of a (re-packed) archive without extracting it."""
    seen: dict[str, tuple[str, str]] = {}
    try:
        with tarfile.open(archive, "r:gz") as tf:
            for info in tf:
                member = _expected_member(ds, info)
                if member is None:
                    continue
                if member in seen:
                    raise _BadArchive(f"duplicate member {info.name}")
                f = tf.extractfile(info)
                md5, sha = hashlib.md5(), hashlib.sha256()
                while chunk := f.read(_CHUNK):
                    md5.update(chunk)
                    sha.update(chunk)
                seen[member] = (md5.hexdigest(), sha.hexdigest())
    except _BadArchive as e:
        return str(e)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
        return f"not a readable tar.gz archive ({_one_line(e)})"
    for member, md5, sha in ds.members:
        if member not in seen:
            return f"member {member} is missing"
        if seen[member] != (md5, sha):
            return f"md5 mismatch for member {member} (got {seen[member][0]}, expected {md5})"
    return None


def _raw_problem(ds: Dataset, p: pathlib.Path) -> str | None:
    """None if the raw file at ``p`` is acceptable, else a short reason."""
    try:
        size, md5, sha = _digests(p)
    except OSError as e:
        return f"cannot be read ({_one_line(e)})"
    if size == ds.size and md5 == ds.md5 and sha == ds.sha256:
        return None
    if ds.members:
        # Not the official archive file; accept it if all members are the official bytes.
        problem = _archive_member_problem(ds, p)
        if problem is None:
            return None
        return f"md5 {md5} is not the official {ds.md5} and {problem}"
    if size != ds.size:
        return f"size {size} (expected {ds.size})"
    if md5 != ds.md5:
        return f"md5 {md5} (expected {ds.md5})"
    return "sha256 mismatch"


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


# --------------------------------------------------------------------------- fetch

class _NoBar:
    """Stands in for click.progressbar when progress is off (``hidden=`` needs click 8.2)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n: int) -> None:
        pass


def _download(ds: Dataset, dest: pathlib.Path, progress: bool) -> None:
    if not DOWNLOADS_ALLOWED:
        raise DataError(f"{ds.name} is not on this machine: run `dlgrade data fetch {ds.name}` "
                        f"(or set {DATA_ENV} to a folder holding {ds.filename})")
    errors = []
    for url in ds.urls:
        try:
            _download_one(ds, url, dest, progress)
            return
        except DataError as e:
            errors.append(str(e))
    raise DataError("; ".join(errors))


def _download_one(ds: Dataset, url: str, dest: pathlib.Path, progress: bool) -> None:
    offline_hint = f"check the network, or set {DATA_ENV} to a folder holding {ds.filename}"
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{ds.filename}.", suffix=".part", dir=dest.parent)
    except OSError as e:
        raise DataError(f"{ds.name}: cannot write to the cache {dest.parent} ({_one_line(e)}); "
                        f"set {CACHE_ENV} to a writable folder") from None
    tmp = pathlib.Path(tmp_name)
    try:
        limit = 2 * ds.size + _CHUNK  # a mirror's re-packed archive may differ a little in size
        request = urllib.request.Request(url, headers={"User-Agent": "dlgrade"})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=60) as resp:
            total = resp.headers.get("Content-Length") if hasattr(resp, "headers") else None
            length = int(total) if total and total.isdigit() else ds.size
            received = 0
            bar_cm = (click.progressbar(length=length, label=f"Downloading {ds.filename}",
                                        file=sys.stderr) if progress else _NoBar())
            with bar_cm as bar:
                while chunk := resp.read(_CHUNK):
                    received += len(chunk)
                    if received > limit:
                        raise DataError(f"{ds.name}: download from {url} is larger than expected "
                                        f"({received} bytes > {limit}); not using it")
                    out.write(chunk)
                    bar.update(len(chunk))
        problem = _raw_problem(ds, tmp)
        if problem is not None:
            raise DataError(f"{ds.name}: download from {url} failed verification: {problem}; "
                            f"try again, or set {DATA_ENV} to a folder holding {ds.filename}")
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
        raise DataError(f"{ds.name}: download from {url} failed ({_one_line(e)}); {offline_hint}") from None
    finally:
        tmp.unlink(missing_ok=True)


def fetch(name: str, *, progress: bool = True, force: bool = False) -> pathlib.Path:
    """Return the path of the dataset's verified raw file, downloading it if needed.

    Order: the ``$DLGRADE_DATA`` copy (verified; a bad copy is an error), else the cache
    (verified; a bad cached file is downloaded again), else a download into the cache
    (with a click progress bar on stderr when ``progress``; written to a temporary file,
    verified, then renamed). ``force`` downloads again even when the cache holds a good file
    (it does not bypass ``$DLGRADE_DATA``). Raises :class:`DataError` on failure.
    """
    return _locate(name, progress=progress, force=force, check=True)


def _locate(name: str, *, progress: bool = True, force: bool = False, check: bool = True) -> pathlib.Path:
    ds = _dataset(name)
    data_file = _data_env_file(ds)
    if data_file is not None and data_file.is_file():
        if check:
            problem = _raw_problem(ds, data_file)
            if problem is not None:
                raise DataError(f"{name}: {data_file} ({DATA_ENV}) is corrupt: {problem}; "
                                f"{_fix_hint(ds, data_file)}")
        return data_file
    dest = cache_dir() / ds.filename
    if dest.is_file() and not force:
        if not check or _raw_problem(ds, dest) is None:
            return dest
    _download(ds, dest, progress)
    return dest


def _read_text(name: str) -> str:
    """Read a text dataset, checking the bytes that are actually read."""
    ds = _dataset(name)
    p = _locate(name, check=False)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise DataError(f"{name}: cannot read {p} ({_one_line(e)}); {_fix_hint(ds, p)}") from None
    problem = _check_bytes(data, ds.size, ds.md5, ds.sha256)
    if problem is not None and p.parent == cache_dir():
        # A damaged cached file: download it again once (the download is verified).
        p = _locate(name, force=True)
        data = p.read_bytes()
        problem = _check_bytes(data, ds.size, ds.md5, ds.sha256)
    if problem is not None:
        raise DataError(f"{name}: {p} is corrupt: {problem}; {_fix_hint(ds, p)}")
    return data.decode("utf-8")


# --------------------------------------------------------------------------- CIFAR-10 files

class _BadArchive(Exception):
    """An archive whose structure is wrong (message: what is wrong)."""


def _expected_member(ds: Dataset, info: tarfile.TarInfo) -> str | None:
    """The member's file name if it is one we read (exact name, regular file), else None."""
    prefix = ds.member_dir + "/"
    if not info.name.startswith(prefix):
        return None
    member = info.name[len(prefix):]
    if member not in ds.member_md5:
        return None
    if not info.isfile():
        raise _BadArchive(f"member {info.name} is not a regular file")
    return member


def _extract_dir() -> pathlib.Path:
    return cache_dir() / DATASETS["cifar10"].member_dir


def _ensure_cifar_extracted(progress: bool = True) -> pathlib.Path:
    """Make sure every CIFAR-10 member we read is in the cache; return the folder.

    Only the expected member names are written, as regular files, with names built here
    (never from the archive), so the archive cannot write outside the folder. Each member is
    checked against its official md5/sha256 while it is extracted.
    """
    ds = DATASETS["cifar10"]
    target = _extract_dir()
    if all((target / m).is_file() for m, _, _ in ds.members):
        return target
    # The members are verified one by one below, which is the acceptance rule for the archive.
    archive = _locate("cifar10", progress=progress, check=False)
    try:
        target.mkdir(parents=True, exist_ok=True)
        tmp_dir = pathlib.Path(tempfile.mkdtemp(prefix=".cifar10-extract-", dir=target.parent))
    except OSError as e:
        raise DataError(f"cifar10: cannot write to the cache {target.parent} ({_one_line(e)}); "
                        f"set {CACHE_ENV} to a writable folder") from None
    try:
        seen = set()
        try:
            with tarfile.open(archive, "r:gz") as tf:
                for info in tf:
                    member = _expected_member(ds, info)
                    if member is None:
                        continue
                    if member in seen:
                        raise _BadArchive(f"duplicate member {info.name}")
                    seen.add(member)
                    src = tf.extractfile(info)
                    md5, sha = hashlib.md5(), hashlib.sha256()
                    with open(tmp_dir / member, "wb") as out:
                        while chunk := src.read(_CHUNK):
                            md5.update(chunk)
                            sha.update(chunk)
                            out.write(chunk)
                    want_md5, want_sha = next((a, b) for m, a, b in ds.members if m == member)
                    if md5.hexdigest() != want_md5 or sha.hexdigest() != want_sha:
                        raise DataError(
                            f"cifar10: md5 mismatch for {member} in {archive} (got {md5.hexdigest()}, "
                            f"expected {want_md5}); {_fix_hint(ds, archive)}")
        except _BadArchive as e:
            raise DataError(f"cifar10: {archive} is not usable: {e}; {_fix_hint(ds, archive)}") from None
        except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
            raise DataError(f"cifar10: cannot extract {archive} ({_one_line(e)}); "
                            f"{_fix_hint(ds, archive)}") from None
        missing = [m for m, _, _ in ds.members if m not in seen]
        if missing:
            raise DataError(f"cifar10: {archive} has no member {ds.member_dir}/{missing[0]}; "
                            f"{_fix_hint(ds, archive)}")
        for member in seen:
            os.replace(tmp_dir / member, target / member)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return target


class _BatchUnpickler(pickle.Unpickler):
    """Defence in depth: the CIFAR-10 batches only need numpy's array reconstruction."""

    def find_class(self, module, name):
        if (module, name) in (("numpy.core.multiarray", "_reconstruct"),
                              ("numpy._core.multiarray", "_reconstruct")):
            try:
                from numpy._core.multiarray import _reconstruct
            except ImportError:  # numpy < 2
                from numpy.core.multiarray import _reconstruct
            return _reconstruct
        if module == "numpy" and name == "ndarray":
            return np.ndarray
        if module == "numpy" and name == "dtype":
            return np.dtype
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR-10 batch")


def _read_batch(folder: pathlib.Path, member: str) -> tuple[np.ndarray, np.ndarray]:
    ds = DATASETS["cifar10"]
    p = folder / member
    try:
        data = p.read_bytes()
    except OSError as e:
        raise DataError(f"cifar10: cannot read {p} ({_one_line(e)}); delete {folder} and retry "
                        f"(it is extracted again from {ds.filename})") from None
    _, md5, sha = next(m for m in ds.members if m[0] == member)
    if hashlib.md5(data).hexdigest() != md5 or hashlib.sha256(data).hexdigest() != sha:
        raise DataError(f"cifar10: md5 mismatch for {member} in {folder}; "
                        f"delete {folder} and retry (it is extracted again from {ds.filename})")
    # pickle is only acceptable here because the bytes just matched the official checksums
    # (instructor-side trusted data path); the restricted unpickler is a second guard.
    try:
        batch = _BatchUnpickler(io.BytesIO(data), encoding="bytes").load()
        x = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        y = np.asarray(batch[b"labels"], dtype=np.int64)
    except Exception as e:  # pragma: no cover - cannot happen for the official bytes
        raise DataError(f"cifar10: cannot decode {p} ({_one_line(e)})") from None
    if len(x) != 10000 or len(y) != 10000:  # pragma: no cover - official bytes
        raise DataError(f"cifar10: {p} does not hold 10000 images")
    return x, y


def _npz_sources() -> np.ndarray:
    ds = DATASETS["cifar10"]
    return np.array([f"{m}:{md5}" for m, md5, _ in ds.members if m != "batches.meta"])


def _build_npz(progress: bool = True) -> pathlib.Path:
    folder = _ensure_cifar_extracted(progress)
    train = [_read_batch(folder, m) for m in _CIFAR_TRAIN]
    x_test, y_test = _read_batch(folder, "test_batch")
    arrays = {
        "x_train": np.concatenate([x for x, _ in train]),
        "y_train": np.concatenate([y for _, y in train]),
        "x_test": x_test,
        "y_test": y_test,
        "sources": _npz_sources(),
        "version": np.array(_NPZ_VERSION),
    }
    out = cache_dir() / _NPZ_NAME
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=".cifar10.", suffix=".npz.part", dir=out.parent)
    except OSError as e:
        raise DataError(f"cifar10: cannot write to the cache {out.parent} ({_one_line(e)}); "
                        f"set {CACHE_ENV} to a writable folder") from None
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, out)
    finally:
        pathlib.Path(tmp_name).unlink(missing_ok=True)
    return out


_NPZ_SHAPES = {"x_train": ((50000, 3, 32, 32), np.uint8), "y_train": ((50000,), np.int64),
               "x_test": ((10000, 3, 32, 32), np.uint8), "y_test": ((10000,), np.int64)}


def _array_sha256(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).data).hexdigest()


def _read_npz(keys: tuple[str, str]) -> tuple[np.ndarray, np.ndarray] | None:
    """The arrays from ``cifar10.npz``, or None if it is missing, stale, damaged or not the
    official data (each array read is checked against :data:`_CIFAR_ARRAY_SHA256`)."""
    p = cache_dir() / _NPZ_NAME
    if not p.is_file():
        return None
    try:
        with np.load(p, allow_pickle=False) as npz:
            if int(npz["version"]) != _NPZ_VERSION:
                return None
            if not np.array_equal(npz["sources"], _npz_sources()):
                return None
            out = []
            for k in keys:
                a = npz[k]  # zipfile checks the member's CRC-32 as it is read
                shape, dtype = _NPZ_SHAPES[k]
                if a.shape != shape or a.dtype != dtype or _array_sha256(a) != _CIFAR_ARRAY_SHA256[k]:
                    return None
                out.append(a)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error):
        return None
    return out[0], out[1]


# Arrays read from a cifar10.npz and verified, kept for the life of the process (read-only):
# {keys: (npz path, the file's identity when it was read, (x, y))}. A load reuses them while it
# reads the same path and the file there has the same identity (device, inode, size, modification
# and change times); another path, or a file replaced or rewritten since, is read and verified again. Grading a class
# evaluates every submission's weights on the same test images: they are read, hashed and
# (below) preprocessed once.
_VERIFIED: dict = {}
_PREPROCESSED: dict = {}
_MEMO_LOCK = threading.Lock()


def _identity(p: pathlib.Path):
    try:
        st = p.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _verified_arrays(keys: tuple[str, str]) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`_read_npz`, verified once per process and file (see :data:`_VERIFIED`)."""
    p = str((cache_dir() / _NPZ_NAME).absolute())
    before = _identity(pathlib.Path(p))
    hit = _VERIFIED.get(keys)
    if hit is not None and before is not None and hit[:2] == (p, before):
        return hit[2]
    _VERIFIED.pop(keys, None)
    arrays = _read_npz(keys)
    if arrays is None:
        return None
    for a in arrays:
        a.flags.writeable = False
    if before is not None and _identity(pathlib.Path(p)) == before:  # unchanged while it was read
        _VERIFIED[keys] = (p, before, arrays)
    return arrays


def load_cifar10(split: str) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 images and labels: ``x`` uint8 ``(N, 3, 32, 32)``, ``y`` int64 ``(N,)``, read-only.

    ``split``: ``"train"`` (the first 49000 images of data_batch_1..5, in order), ``"val"``
    (the last 1000) or ``"test"`` (test_batch, 10000). Fetches/extracts on first use. The
    arrays are verified when first read in a process and then reused (views of them: copy
    before modifying).
    """
    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be 'train', 'val' or 'test', not {split!r}")
    keys = ("x_test", "y_test") if split == "test" else ("x_train", "y_train")
    with _MEMO_LOCK:  # threads grading submissions side by side read and verify the file once
        arrays = _verified_arrays(keys)
        if arrays is None:
            _build_npz()
            arrays = _verified_arrays(keys)
            if arrays is None:  # pragma: no cover - only if the cache is being clobbered
                raise DataError(f"cifar10: cannot read {cache_dir() / _NPZ_NAME} just written; "
                                f"delete it and retry")
    x, y = arrays
    if split == "train":
        return x[:_CIFAR_N_TRAIN], y[:_CIFAR_N_TRAIN]
    if split == "val":
        return x[_CIFAR_N_TRAIN:], y[_CIFAR_N_TRAIN:]
    return x, y


def cifar10_preprocess(x) -> np.ndarray:
    """uint8 ``(N, 3, 32, 32)`` -> float32 ``(x / 255 - CIFAR10_MEAN) / CIFAR10_STD`` per channel."""
    x = np.asarray(x)
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != (3, 32, 32):
        raise ValueError(f"expected uint8 images of shape (N, 3, 32, 32), got {x.dtype} {x.shape}")
    out = x.astype(np.float32)
    out *= np.float32(1 / 255)
    out -= CIFAR10_MEAN
    out /= CIFAR10_STD
    return out


def cifar10_test_set() -> tuple[np.ndarray, np.ndarray]:
    """The test split preprocessed: ``(cifar10_preprocess(x), y)``, read-only, computed once per
    process from the verified arrays of :func:`load_cifar10` and reused while they are (what the
    accuracy items evaluate every submission's weights on)."""
    x, y = load_cifar10("test")
    with _MEMO_LOCK:
        hit = _PREPROCESSED.get("test")
        if hit is None or hit[0] is not x:
            pre = cifar10_preprocess(x)
            pre.flags.writeable = False
            hit = _PREPROCESSED["test"] = (x, pre)
    return hit[1], y


# --------------------------------------------------------------------------- verify

def verify(name: str) -> list[tuple[str, bool]]:
    """Checksum results ``[(file, ok), ...]`` of the files the loaders actually read.

    cifar10: each extracted member (data_batch_1..5, test_batch, batches.meta) against its
    official md5 (and sha256), extracting from the local archive first if needed; names and
    shakespeare: the raw text file (size, md5, sha256). Nothing is downloaded: a dataset that
    is not present raises :class:`DataError`.
    """
    ds = _dataset(name)
    if ds.members:
        target = _extract_dir()
        if not all((target / m).is_file() for m, _, _ in ds.members):
            if not path(name).is_file():
                raise DataError(_missing_message(ds))
            _ensure_cifar_extracted()
        results = []
        for member, md5, sha in ds.members:
            try:
                _, got_md5, got_sha = _digests(target / member)
                results.append((member, got_md5 == md5 and got_sha == sha))
            except OSError:
                results.append((member, False))
        return results
    p = path(name)
    if not p.is_file():
        raise DataError(_missing_message(ds))
    return [(ds.filename, _raw_problem(ds, p) is None)]


def _missing_message(ds: Dataset) -> str:
    return (f"{ds.name}: {ds.filename} not found in the cache {cache_dir()}; run "
            f"`dlgrade data fetch {ds.name}`, or set {DATA_ENV} to a folder holding {ds.filename}")


# --------------------------------------------------------------------------- text datasets

def load_names() -> dict[str, list[str]]:
    """The makemore names split into ``{"train", "val", "test"}`` lists (see the module docstring)."""
    names = [line.strip() for line in _read_text("names").splitlines()]
    names = [n for n in names if n]
    perm = np.random.default_rng(_NAMES_SEED).permutation(len(names))
    n_held = min(1000, len(names) // 10)
    return {
        "train": [names[i] for i in perm[2 * n_held:]],
        "val": [names[i] for i in perm[n_held:2 * n_held]],
        "test": [names[i] for i in perm[:n_held]],
    }


def load_shakespeare() -> dict[str, str]:
    """Tiny Shakespeare as contiguous ``{"train": 80%, "val": 10%, "test": last 10%}`` strings."""
    text = _read_text("shakespeare")
    n = len(text)
    a, b = n * 8 // 10, n * 9 // 10
    return {"train": text[:a], "val": text[a:b], "test": text[b:]}
