"""The `imdb` dataset: an archive checked by a content digest over the labelled reviews it holds.

Tampering is tested on a tiny course dataset declared like `imdb` (six reviews, the same member
pattern, its own digest); the real loader (`load_imdb`) and the real CLI on the local copy in
``$DLGRADE_DATA`` (``aclImdb_labelled.tar.gz``), skipped when it is absent.
"""
import hashlib
import io
import os
import pathlib
import socket
import tarfile

import numpy as np
import pytest

from grader.student import arraycache, data
from tests.conftest import dlgrade

LOCAL = "aclImdb_labelled.tar.gz"
PATTERN = r"aclImdb/(train|test)/(pos|neg)/[0-9]+_[0-9]+\.txt"
REVIEWS = {
    "aclImdb/train/pos/0_9.txt": b"A great film.<br /><br />Loved it.",
    "aclImdb/train/pos/1_7.txt": "Caf\u00e9 scenes, good.".encode(),
    "aclImdb/train/neg/0_3.txt": b"Dull.",
    "aclImdb/train/neg/1_1.txt": b"Awful, awful.",
    "aclImdb/test/pos/0_10.txt": b"Wonderful.",
    "aclImdb/test/neg/0_2.txt": b"Boring.",
}
# What the official archive holds besides the labelled reviews (never read).
OTHERS = {"aclImdb/README": b"readme", "aclImdb/train/unsup/0_0.txt": b"unlabelled",
          "aclImdb/train/labeledBow.feat": b"0 1:1", "aclImdb/test/urls_pos.txt": b"http://x"}
COURSE = '''
from grader.data import Dataset

DATASETS = (Dataset(name="tinyimdb", urls=({url!r},), filename="aclImdb_v1.tar.gz",
                    local_filenames=({local!r},), size={size}, md5={md5!r}, sha256={sha!r},
                    member_pattern={pattern!r}, member_count={count}, content_sha256={digest!r}),)
'''


def _digest(members):
    """The README's definition, written out independently of grader.student.fetching."""
    h = hashlib.sha256()
    for name in sorted(members):
        h.update(name.encode() + b"\0" + members[name] + b"\0")
    return h.hexdigest()


def _tar(path, entries):
    """A tar.gz of ``(name, bytes)``, or ``(name, "dir")`` / ``(name, ("link", target))`` entries."""
    with tarfile.open(path, "w:gz") as tf:
        for name, content in entries:
            info = tarfile.TarInfo(name)
            if isinstance(content, bytes):
                info.size = len(content)
                tf.addfile(info, io.BytesIO(content))
            elif content == "dir":
                info.type = tarfile.DIRTYPE
                tf.addfile(info)
            else:
                info.type, info.linkname = tarfile.SYMTYPE, content[1]
                tf.addfile(info)
    return path


def _free_port():
    with socket.socket() as s:  # bound, then closed: nothing listens there
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A course declaring `tinyimdb`: its 'official' archive (reviews and other members) served
    from a file URL, an empty cache, no $DLGRADE_DATA. Returns tmp_path."""
    (tmp_path / "mirror").mkdir()
    official = _tar(tmp_path / "mirror" / "aclImdb_v1.tar.gz", [*OTHERS.items(), *REVIEWS.items()])
    raw = official.read_bytes()
    (tmp_path / "course" / "solutions").mkdir(parents=True)
    (tmp_path / "course" / "solutions" / "datasets.py").write_text(COURSE.format(
        url=official.as_uri(), local=LOCAL, size=len(raw), md5=hashlib.md5(raw).hexdigest(),
        sha=hashlib.sha256(raw).hexdigest(), pattern=PATTERN, count=len(REVIEWS), digest=_digest(REVIEWS)))
    monkeypatch.setenv("DLGRADE_COURSE", str(tmp_path / "course"))
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    return tmp_path


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy",)}
    env.update({k: str(v) for k, v in extra.items()})
    return env


# --------------------------------------------------------------------------- the machinery, tiny

def test_the_official_archive_is_downloaded_and_only_its_labelled_reviews_are_read(tiny):
    assert data.fetch("tinyimdb", progress=False) == tiny / "cache" / "aclImdb_v1.tar.gz" == data.path("tinyimdb")
    assert data.read_archive("tinyimdb") == REVIEWS
    assert data.verify("tinyimdb") == [("aclImdb_v1.tar.gz: 6 members, content digest", True)]


def test_a_repacked_copy_is_found_in_the_data_folder_under_its_own_name(tiny, monkeypatch):
    folder = tiny / "data"
    folder.mkdir()
    _tar(folder / LOCAL, sorted(REVIEWS.items(), reverse=True))  # other order, other bytes
    monkeypatch.setenv(data.DATA_ENV, str(folder))
    assert data.path("tinyimdb") == folder / LOCAL == data.fetch("tinyimdb", progress=False)
    assert data.read_archive("tinyimdb", download=False) == REVIEWS
    assert data.verify("tinyimdb") == [(f"{LOCAL}: 6 members, content digest", True)]
    assert not (tiny / "cache").exists()  # nothing downloaded


def _changed():
    return {**REVIEWS, "aclImdb/train/neg/1_1.txt": b"Awful, awfuL."}


TAMPERED = {  # id -> (the archive's entries, what the one-line refusal names)
    "one byte changed": (lambda: _changed().items(), "content digest"),
    "a member missing": (lambda: list(REVIEWS.items())[1:], "has 5 members matching"),
    "a member renamed": (lambda: [("aclImdb/train/pos/9_9.txt" if k.endswith("0_9.txt") else k, v)
                                  for k, v in REVIEWS.items()], "content digest"),
    "an extra review": (lambda: [*REVIEWS.items(), ("aclImdb/test/neg/1_4.txt", b"Meh.")],
                        "has 7 members matching"),
    "a duplicate member": (lambda: [*REVIEWS.items(), ("aclImdb/train/pos/0_9.txt", b"again")],
                           "duplicate member aclImdb/train/pos/0_9.txt"),
    "a link as a review": (lambda: [*list(REVIEWS.items())[1:], ("aclImdb/train/pos/0_9.txt", ("link", "/etc/passwd"))],
                           "member aclImdb/train/pos/0_9.txt is not a regular file"),
    "a folder as a review": (lambda: [*list(REVIEWS.items())[1:], ("aclImdb/train/pos/0_9.txt", "dir")],
                             "is not a regular file"),
}


@pytest.mark.parametrize("entries, problem", TAMPERED.values(), ids=TAMPERED)
def test_a_tampered_copy_is_refused_with_one_line_naming_the_problem(tiny, monkeypatch, entries, problem):
    folder = tiny / "data"
    folder.mkdir()
    _tar(folder / LOCAL, entries())
    monkeypatch.setenv(data.DATA_ENV, str(folder))
    for read in (data.read_archive, data.fetch):
        with pytest.raises(data.DataError) as info:
            read("tinyimdb")
        message = str(info.value)
        assert problem in message and "\n" not in message, message
        assert message.startswith(f"tinyimdb: {folder / LOCAL} ({data.DATA_ENV}) is corrupt")
        assert message.endswith("replace it with a good copy, or unset DLGRADE_DATA to use the cache")
    assert data.verify("tinyimdb") == [(f"{LOCAL}: 6 members, content digest", False)]
    assert not (tiny / "cache").exists()  # a bad local copy is an error, never replaced by a download
    proc = dlgrade("data", "fetch", "tinyimdb", env=_env())
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith("error: tinyimdb: ") and problem in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_garbage_is_not_a_readable_archive(tiny, monkeypatch):
    (tiny / "data").mkdir()
    (tiny / "data" / LOCAL).write_bytes(b"not gzip at all")
    monkeypatch.setenv(data.DATA_ENV, str(tiny / "data"))
    with pytest.raises(data.DataError, match="is corrupt: not a readable tar.gz archive"):
        data.read_archive("tinyimdb")


def test_a_damaged_cached_archive_is_downloaded_again(tiny):
    cached = tiny / "cache" / "aclImdb_v1.tar.gz"
    cached.parent.mkdir()
    _tar(cached, _changed().items())
    assert data.verify("tinyimdb") == [("aclImdb_v1.tar.gz: 6 members, content digest", False)]
    assert data.read_archive("tinyimdb", progress=False) == REVIEWS
    assert data.verify("tinyimdb") == [("aclImdb_v1.tar.gz: 6 members, content digest", True)]


def test_offline_without_a_local_copy_is_one_clear_line(tiny, monkeypatch):
    dead = f"http://127.0.0.1:{_free_port()}/aclImdb_v1.tar.gz"
    course = tiny / "course" / "solutions" / "datasets.py"
    course.write_text(course.read_text().replace(repr((tiny / "mirror" / "aclImdb_v1.tar.gz").as_uri()), repr(dead)))
    with pytest.raises(data.DataError) as info:
        data.read_archive("tinyimdb", download=False)
    assert str(info.value).startswith("tinyimdb is not on this machine: run `dlgrade data fetch tinyimdb` "
                                      f"(or set DLGRADE_DATA to a folder holding aclImdb_v1.tar.gz or {LOCAL})")
    proc = dlgrade("data", "fetch", "tinyimdb", env=_env())
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith(f"error: tinyimdb: download from {dead} failed (")
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert not (tiny / "cache" / "aclImdb_v1.tar.gz").exists()


def test_dlgrade_data_fetch_imdb_offline_is_one_clear_line(tmp_path):
    """The real dataset, no network (a proxy nobody answers at) and no local copy."""
    (tmp_path / "empty").mkdir()
    proxy = f"http://127.0.0.1:{_free_port()}"
    env = _env(DLGRADE_DATA=tmp_path / "empty", DLGRADE_CACHE=tmp_path / "cache",
               https_proxy=proxy, HTTPS_PROXY=proxy, http_proxy=proxy, HTTP_PROXY=proxy)
    env.pop("DLGRADE_COURSE", None)
    proc = dlgrade("data", "fetch", "imdb", env=env, timeout=120)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith("error: imdb: download from "
                                  "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz failed (")
    assert proc.stderr.rstrip().endswith(f"set DLGRADE_DATA to a folder holding aclImdb_v1.tar.gz or {LOCAL}")
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    proc = dlgrade("data", "verify", "imdb", env=env, timeout=120)
    assert proc.returncode == 1 and proc.stderr.startswith("error: imdb: aclImdb_v1.tar.gz not found in the cache")


# --------------------------------------------------------------------------- the real data

def _local_copy():
    folder = os.environ.get(data.DATA_ENV)
    if not folder or not (pathlib.Path(folder) / LOCAL).is_file():
        pytest.skip(f"real data not available (set {data.DATA_ENV} to a folder holding {LOCAL})")
    return pathlib.Path(folder).resolve() / LOCAL


@pytest.fixture(scope="module")
def imdb(tmp_path_factory):
    """The course's datasets module, with one cache for this module (imdb.npz decoded once)."""
    local = _local_copy()
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("DLGRADE_COURSE", raising=False)
        mp.setenv(data.DATA_ENV, str(local.parent))
        mp.setenv(data.CACHE_ENV, str(tmp_path_factory.mktemp("imdb-cache")))
        yield data.course_module()


def test_the_dataset_is_declared_with_the_official_checksums(imdb):
    ds = data.DATASETS["imdb"]
    assert (ds.url, ds.filename, ds.size, ds.md5, ds.sha256) == (
        "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz", "aclImdb_v1.tar.gz", 84125825,
        "7c2ac02c03563afcf9b574c7e56c153a", "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe")
    assert (ds.member_count, ds.content_sha256) == (
        50000, "cc143339df6a1f848b662a2bdc9f158f636028e69234e58742f821c6b2ab3444")  # README's digest
    assert ds.local_filenames == (LOCAL,)


def test_the_local_archive_yields_both_splits_balanced_in_the_documented_order(imdb):
    texts, y = imdb.load_imdb("train")
    assert len(texts) == len(y) == 25000 and y.dtype == np.int64 and not y.flags.writeable
    assert y.tolist() == [0] * 12500 + [1] * 12500
    assert texts[12500].startswith('Bromwell High is a cartoon comedy. It ran at the same time as some other '
                                   'programs about school life, such as "Teachers".')  # train/pos/0_9.txt
    assert texts[0].startswith("Story of a man who has unnatural feelings for a pig.")  # train/neg/0_3.txt
    test_texts, test_y = imdb.load_imdb("test")
    assert len(test_texts) == 25000 and test_y.tolist() == [0] * 12500 + [1] * 12500
    assert test_texts[0].startswith("Once again Mr. Costner has dragged out a movie for far longer than necessary.")
    assert all(isinstance(t, str) and t for t in test_texts)
    # The texts are the archive's bytes, unchanged (checked independently of the loader).
    want = {"aclImdb/train/neg/0_3.txt": texts[0], "aclImdb/train/pos/0_9.txt": texts[12500],
            "aclImdb/test/pos/12499_10.txt": test_texts[-1], "aclImdb/train/neg/10_2.txt": texts[10]}
    with tarfile.open(_local_copy(), "r:gz") as tf:
        for info in tf:
            if info.name in want:
                assert tf.extractfile(info).read().decode() == want.pop(info.name)
    assert not want
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        imdb.load_imdb("val")


def test_the_cache_is_reused_and_a_corrupted_cache_is_rebuilt(imdb, monkeypatch):
    texts, y = imdb.load_imdb("test")
    npz = pathlib.Path(os.environ[data.CACHE_ENV]) / "imdb.npz"
    assert npz.is_file()
    # A new process (nothing verified yet) reads imdb.npz, not the archive.
    monkeypatch.setattr(arraycache, "_VERIFIED", {})
    monkeypatch.setattr(imdb, "_IMDB_TEXTS", {})
    real_read = imdb.read_archive
    monkeypatch.setattr(imdb, "read_archive", lambda *a, **k: pytest.fail("read the archive again"))
    again, y_again = imdb.load_imdb("test")
    assert again == texts and y_again.tolist() == y.tolist()
    # The same process reuses the verified arrays and the decoded texts.
    monkeypatch.setattr(arraycache, "read_arrays", lambda spec, keys: pytest.fail("read imdb.npz again"))
    assert imdb.load_imdb("test")[0] is again
    monkeypatch.undo()
    # One byte of a review changed in the cache file: it is not used, but rebuilt from the archive.
    raw = bytearray(npz.read_bytes())
    at = raw.index(b"Once again Mr. Costner")
    raw[at] = ord("X")
    npz.write_bytes(bytes(raw))
    calls = []
    monkeypatch.setattr(arraycache, "_VERIFIED", {})
    monkeypatch.setattr(imdb, "_IMDB_TEXTS", {})
    monkeypatch.setattr(imdb, "read_archive", lambda *a, **k: calls.append(1) or real_read(*a, **k))
    rebuilt, _ = imdb.load_imdb("test")
    assert calls == [1] and rebuilt == texts
    assert npz.read_bytes()[at] == ord("O")


def test_the_arrays_are_checked_so_a_changed_review_in_a_consistent_file_is_refused(imdb, monkeypatch):
    """A cache file rewritten with valid zip CRCs but another review is not the official data."""
    imdb.load_imdb("test")
    spec = imdb._imdb_arrays()
    keys = ("text_test", "offsets_test", "y_test")
    with np.load(spec.path, allow_pickle=False) as npz:
        arrays = {k: npz[k].copy() for k in npz.files if k not in ("sources", "version")}
    arrays["text_test"][0] ^= 1
    arraycache.write_arrays(spec, arrays, "imdb")
    assert arraycache.read_arrays(spec, keys) is None
    arrays["text_test"][0] ^= 1
    arraycache.write_arrays(spec, arrays, "imdb")
    assert arraycache.read_arrays(spec, keys) is not None


def test_load_imdb_without_download_refuses_in_one_line(tmp_path, monkeypatch, imdb):
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path / "empty"))
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path / "cache"))
    with pytest.raises(data.DataError) as info:
        imdb.load_imdb("test", download=False)
    assert str(info.value) == ("imdb is not on this machine: run `dlgrade data fetch imdb` (or set DLGRADE_DATA "
                               f"to a folder holding aclImdb_v1.tar.gz or {LOCAL})")


def test_dlgrade_data_fetch_path_and_verify_imdb(imdb, tmp_path):
    local = _local_copy()
    env = _env(DLGRADE_DATA=local.parent, DLGRADE_CACHE=tmp_path / "cache")
    env.pop("DLGRADE_COURSE", None)
    for verb, out in (("fetch", f"{local}\n"), ("path", f"{local}\n"),
                      ("verify", f"ok   {LOCAL}: 50000 members, content digest\n")):
        proc = dlgrade("data", verb, "imdb", env=env, timeout=300)
        assert (proc.returncode, proc.stdout) == (0, out), proc.stderr
    assert not (tmp_path / "cache").exists()
