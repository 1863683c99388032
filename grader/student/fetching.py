"""The raw files of datasets: where they are cached, their checksums, their verified download.

Works on one :class:`Dataset` at a time (the course declares them: :mod:`grader.student.data`);
nothing here knows a dataset by name.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import http.client
import os
import pathlib
import re
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib

import click

DATA_ENV = "DLGRADE_DATA"
CACHE_ENV = "DLGRADE_CACHE"
_CHUNK = 1 << 20


class DataError(Exception):
    """A dataset is missing, corrupt or cannot be downloaded (the message says what to do)."""


@dataclasses.dataclass(frozen=True)
class Dataset:
    """One dataset's raw download and the checksums it must match.

    ``members`` (an archive only) lists ``(file name, md5, sha256)`` of the files inside the
    archive that are read; they live under ``member_dir`` in the archive.

    An archive of many small files is declared instead by a content digest: ``member_pattern``
    (a regular expression that the names of the members read match in full), ``member_count``
    and ``content_sha256``, the sha256 over those members sorted by name, each fed as
    ``name + b"\\0" + bytes + b"\\0"`` (:func:`content_digest`): any archive holding exactly these
    members passes, whatever else it holds and however it is packed.

    ``local_filenames``: other names under which ``$DLGRADE_DATA`` may hold the file (a re-packed
    copy), looked for after ``filename``.
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
    local_filenames: tuple[str, ...] = ()
    member_pattern: str = ""
    member_count: int = 0
    content_sha256: str = ""

    @property
    def url(self) -> str:
        return self.urls[0]

    @property
    def file_names(self) -> str:
        """The file names ``$DLGRADE_DATA`` may hold it under, for messages."""
        return " or ".join((self.filename, *self.local_filenames))

    @property
    def member_md5(self) -> dict[str, str]:
        return {m: md5 for m, md5, _ in self.members}


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


def data_env_file(ds: Dataset) -> pathlib.Path | None:
    """The dataset's file in ``$DLGRADE_DATA``: the first of ``filename``, ``*local_filenames``
    that exists there, else ``filename`` there (absent); None when the variable is not set."""
    env = os.environ.get(DATA_ENV)
    if not env:
        return None
    folder = pathlib.Path(env).expanduser()
    for name in (ds.filename, *ds.local_filenames):
        if (folder / name).is_file():
            return folder / name
    return folder / ds.filename


def fix_hint(ds: Dataset, p: pathlib.Path) -> str:
    data_file = data_env_file(ds)
    if data_file is not None and p == data_file:
        return f"replace it with a good copy, or unset {DATA_ENV} to use the cache"
    return f"delete it and run `dlgrade data fetch {ds.name}`"


def digests(p: pathlib.Path) -> tuple[int, str, str]:
    md5, sha = hashlib.md5(), hashlib.sha256()
    size = 0
    with open(p, "rb") as f:
        while chunk := f.read(_CHUNK):
            size += len(chunk)
            md5.update(chunk)
            sha.update(chunk)
    return size, md5.hexdigest(), sha.hexdigest()


def check_bytes(data: bytes, size: int | None, md5: str, sha256: str) -> str | None:
    """None if ``data`` matches, else a short reason."""
    if size is not None and len(data) != size:
        return f"size {len(data)} (expected {size})"
    got = hashlib.md5(data).hexdigest()
    if got != md5:
        return f"md5 {got} (expected {md5})"
    if hashlib.sha256(data).hexdigest() != sha256:
        return "sha256 mismatch"
    return None


def read_members(ds: Dataset, archive: pathlib.Path, write_to: pathlib.Path | None = None):
    """Stream each expected member of the tar.gz ``archive`` once, hashing it (and writing it as
    ``write_to / member`` when given, a name built here, never the archive's): yields
    ``(member, md5, sha256)``. A member found twice raises :class:`BadArchive`."""
    seen = set()
    with tarfile.open(archive, "r:gz") as tf:
        for info in tf:
            member = expected_member(ds, info)
            if member is None:
                continue
            if member in seen:
                raise BadArchive(f"duplicate member {info.name}")
            seen.add(member)
            src = tf.extractfile(info)
            md5, sha = hashlib.md5(), hashlib.sha256()
            with open(write_to / member, "wb") if write_to is not None else contextlib.nullcontext() as out:
                while chunk := src.read(_CHUNK):
                    md5.update(chunk)
                    sha.update(chunk)
                    if out is not None:
                        out.write(chunk)
            yield member, md5.hexdigest(), sha.hexdigest()


def archive_member_problem(ds: Dataset, archive: pathlib.Path) -> str | None:
    """Check every expected member of a (re-packed) archive without extracting it."""
    try:
        seen = {member: (md5, sha) for member, md5, sha in read_members(ds, archive)}
    except BadArchive as e:
        return str(e)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
        return f"not a readable tar.gz archive ({one_line(e)})"
    for member, md5, sha in ds.members:
        if member not in seen:
            return f"member {member} is missing"
        if seen[member] != (md5, sha):
            return f"md5 mismatch for member {member} (got {seen[member][0]}, expected {md5})"
    return None


def raw_problem(ds: Dataset, p: pathlib.Path) -> str | None:
    """None if the raw file at ``p`` is acceptable, else a short reason."""
    try:
        size, md5, sha = digests(p)
    except OSError as e:
        return f"cannot be read ({one_line(e)})"
    if size == ds.size and md5 == ds.md5 and sha == ds.sha256:
        return None
    if ds.content_sha256:
        # Not the official archive file; accept it if the members read are the official ones.
        problem = verified_content(ds, p)
        if not isinstance(problem, str):
            return None
        return f"md5 {md5} is not the official {ds.md5} and {problem}"
    if ds.members:
        # Not the official archive file; accept it if all members are the official bytes.
        problem = archive_member_problem(ds, p)
        if problem is None:
            return None
        return f"md5 {md5} is not the official {ds.md5} and {problem}"
    if size != ds.size:
        return f"size {size} (expected {ds.size})"
    if md5 != ds.md5:
        return f"md5 {md5} (expected {ds.md5})"
    return "sha256 mismatch"


def read_content(ds: Dataset, archive: pathlib.Path) -> dict[str, bytes]:
    """The members of the tar.gz ``archive`` whose names match ``ds.member_pattern``, read once:
    ``{name: bytes}``. A matching member found twice, or that is not a regular file, raises
    :class:`BadArchive`; checking the count and the digest is :func:`content_mismatch`."""
    pattern = re.compile(ds.member_pattern)
    out: dict[str, bytes] = {}
    with tarfile.open(archive, "r:gz") as tf:
        for info in tf:
            if not pattern.fullmatch(info.name):
                continue
            if info.name in out:
                raise BadArchive(f"duplicate member {info.name}")
            if not info.isfile():
                raise BadArchive(f"member {info.name} is not a regular file")
            out[info.name] = tf.extractfile(info).read()
    return out


def content_digest(members: dict[str, bytes]) -> str:
    """sha256 over the members sorted by name, each fed as ``name + b"\\0" + bytes + b"\\0"``."""
    h = hashlib.sha256()
    for name in sorted(members):
        h.update(name.encode("utf-8") + b"\0")
        h.update(members[name])
        h.update(b"\0")
    return h.hexdigest()


def content_mismatch(ds: Dataset, members: dict[str, bytes]) -> str | None:
    """None if ``members`` (:func:`read_content`) are the official ones, else a short reason."""
    if len(members) != ds.member_count:
        return (f"it has {len(members)} members matching {ds.name}'s member pattern "
                f"(expected {ds.member_count})")
    if content_digest(members) != ds.content_sha256:
        return (f"the content digest of its {len(members)} members is not the official "
                f"{ds.content_sha256[:12]}... (a member's bytes or name differ)")
    return None


def verified_content(ds: Dataset, archive: pathlib.Path) -> dict[str, bytes] | str:
    """An archive declared by a content digest, read and checked: its members
    (:func:`read_content`) if they are the official ones, else a short reason it is refused."""
    try:
        members = read_content(ds, archive)
    except BadArchive as e:
        return str(e)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
        return f"not a readable tar.gz archive ({one_line(e)})"
    return content_mismatch(ds, members) or members


def one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


class _NoBar:
    """Stands in for click.progressbar when progress is off (``hidden=`` needs click 8.2)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n: int) -> None:
        pass


def download_file(ds: Dataset, dest: pathlib.Path, progress: bool, download: bool = True) -> None:
    if not download:
        raise DataError(f"{ds.name} is not on this machine: run `dlgrade data fetch {ds.name}` "
                        f"(or set {DATA_ENV} to a folder holding {ds.file_names})")
    errors = []
    for url in ds.urls:
        try:
            _download_one(ds, url, dest, progress)
            return
        except DataError as e:
            errors.append(str(e))
    raise DataError("; ".join(errors))


def _download_one(ds: Dataset, url: str, dest: pathlib.Path, progress: bool) -> None:
    offline_hint = f"check the network, or set {DATA_ENV} to a folder holding {ds.file_names}"
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{ds.filename}.", suffix=".part", dir=dest.parent)
    except OSError as e:
        raise DataError(f"{ds.name}: cannot write to the cache {dest.parent} ({one_line(e)}); "
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
        problem = raw_problem(ds, tmp)
        if problem is not None:
            raise DataError(f"{ds.name}: download from {url} failed verification: {problem}; "
                            f"try again, or set {DATA_ENV} to a folder holding {ds.file_names}")
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
        raise DataError(f"{ds.name}: download from {url} failed ({one_line(e)}); {offline_hint}") from None
    finally:
        tmp.unlink(missing_ok=True)


class BadArchive(Exception):
    """An archive whose structure is wrong (message: what is wrong)."""


def expected_member(ds: Dataset, info: tarfile.TarInfo) -> str | None:
    """The member's file name if it is one we read (exact name, regular file), else None."""
    prefix = ds.member_dir + "/"
    if not info.name.startswith(prefix):
        return None
    member = info.name[len(prefix):]
    if member not in ds.member_md5:
        return None
    if not info.isfile():
        raise BadArchive(f"member {info.name} is not a regular file")
    return member
