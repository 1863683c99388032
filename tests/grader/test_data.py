"""Tests for grader.student.data and the course's datasets (solutions/datasets.py): fetching, verification, caching, loaders and splits.

Real-data tests read ``$DLGRADE_DATA`` (CI: ``../shared/data``) and are skipped only when it
is absent. Every test gets its own empty cache (``$DLGRADE_CACHE`` -> ``tmp_path``), except
the CIFAR-10 tests, which share one module-scoped cache so the archive is extracted and
converted once.
"""
import collections
import dataclasses
import functools
import hashlib
import http.server
import io
import os
import pathlib
import pickle
import shutil
import tarfile
import threading

import numpy as np
import pytest

from grader.student import arraycache, data

_DATA_DIR = os.environ.get(data.DATA_ENV)
_DATA_DIR = pathlib.Path(_DATA_DIR).resolve() if _DATA_DIR else None


def _real(filename):
    if _DATA_DIR is None or not (_DATA_DIR / filename).is_file():
        pytest.skip(f"real data not available (set {data.DATA_ENV} to a folder holding {filename})")
    return _DATA_DIR / filename


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Never touch the user's cache; start every test from an empty one."""
    cache = tmp_path / "cache"
    monkeypatch.setenv(data.CACHE_ENV, str(cache))
    if _DATA_DIR is not None:
        monkeypatch.setenv(data.DATA_ENV, str(_DATA_DIR))
    return cache


# --------------------------------------------------------------------------- metadata, paths

def test_dataset_table_has_the_official_checksums():
    c = data.DATASETS["cifar10"]
    assert c.url == "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    assert (c.filename, c.size, c.md5) == ("cifar-10-python.tar.gz", 170498071,
                                           "c58f30108f718f92721af3b95e74349a")
    assert c.member_md5 == {
        "data_batch_1": "c99cafc152244af753f735de768cd75f",
        "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
        "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
        "data_batch_4": "634d18415352ddfa80567beed471001a",
        "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
        "test_batch": "40351d587109b95175f43aff81a1287e",
        "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
    }
    n = data.DATASETS["names"]
    assert (n.url, n.filename, n.size, n.md5) == (
        "https://raw.githubusercontent.com/karpathy/makemore/master/names.txt", "names.txt",
        228145, "401b3c4cac9e28a586ed15e81256680d")
    s = data.DATASETS["shakespeare"]
    assert (s.url, s.filename, s.size, s.md5) == (
        "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
        "tinyshakespeare.txt", 1115394, "6fb458f1232090904fb40fe944165e91")
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.md5 = "0" * 32


def test_cache_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path / "c"))
    assert data.cache_dir() == tmp_path / "c"
    monkeypatch.delenv(data.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data.cache_dir() == tmp_path / "xdg" / "dlgrade"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data.cache_dir() == tmp_path / "home" / ".cache" / "dlgrade"


def test_path_prefers_the_data_folder(tmp_path, monkeypatch, _isolated_cache):
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    assert data.path("names") == _isolated_cache / "names.txt"
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setenv(data.DATA_ENV, str(folder))
    assert data.path("names") == _isolated_cache / "names.txt"  # not there: the cache
    (folder / "names.txt").write_text("x")
    assert data.path("names") == folder / "names.txt"
    assert not _isolated_cache.exists()  # path() never creates or downloads anything


def test_unknown_dataset_is_a_data_error():
    for func in (data.fetch, data.path, data.verify):
        with pytest.raises(data.DataError, match="unknown dataset 'mnist'"):
            func("mnist")


# --------------------------------------------------------------------------- downloads

class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture
def server(tmp_path):
    """An HTTP server on 127.0.0.1 serving tmp_path/srv; yields (folder, base URL, GET log)."""
    root = tmp_path / "srv"
    root.mkdir()
    gets = []

    class Handler(_Handler):
        def do_GET(self):
            gets.append(self.path)
            super().do_GET()

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{httpd.server_address[1]}", gets
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


_FAKE_NAMES = ("".join(f"name{i}\n" for i in range(5000))).encode()


def _patch(monkeypatch, name, content, url):
    ds = dataclasses.replace(
        data.DATASETS[name], urls=(url,), size=len(content),
        md5=hashlib.md5(content).hexdigest(), sha256=hashlib.sha256(content).hexdigest())
    monkeypatch.setitem(data.DATASETS, name, ds)
    return ds


def test_download_with_progress_bar(server, monkeypatch, capfd, _isolated_cache):
    root, base, gets = server
    (root / "names.txt").write_bytes(_FAKE_NAMES)
    _patch(monkeypatch, "names", _FAKE_NAMES, f"{base}/names.txt")
    monkeypatch.delenv(data.DATA_ENV, raising=False)

    got = data.fetch("names")
    assert got == _isolated_cache / "names.txt" == data.path("names")
    assert got.read_bytes() == _FAKE_NAMES
    assert gets == ["/names.txt"]
    out, err = capfd.readouterr()
    assert out == ""  # only the progress bar, on stderr
    assert "Downloading names.txt" in err
    assert sorted(p.name for p in _isolated_cache.iterdir()) == ["names.txt"]  # no temp files left
    assert data.verify("names") == [("names.txt", True)]

    # A verified cached file is used as is; force=True downloads again, quietly without progress.
    assert data.fetch("names") == got and gets == ["/names.txt"]
    assert data.fetch("names", force=True, progress=False) == got
    assert gets == ["/names.txt", "/names.txt"]
    assert capfd.readouterr() == ("", "")
    # The loader reads the downloaded file.
    splits = data.load_names()
    assert sum(len(v) for v in splits.values()) == 5000 and len(splits["test"]) == 500


def test_download_from_file_url(tmp_path, monkeypatch, _isolated_cache):
    src = tmp_path / "input.txt"
    src.write_bytes(b"To be, or not to be" * 100)
    _patch(monkeypatch, "shakespeare", src.read_bytes(), src.as_uri())
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    got = data.fetch("shakespeare", progress=False)
    assert got == _isolated_cache / "tinyshakespeare.txt"
    assert got.read_bytes() == src.read_bytes()
    assert data.load_shakespeare()["train"].startswith("To be, or not")


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[:100] + bytes([b[100] ^ 1]) + b[101:], "md5"),   # one flipped bit
    (lambda b: b[:-7], "size"),                                   # truncated
])
def test_corrupt_download_is_rejected_and_not_kept(server, monkeypatch, _isolated_cache, damage, message):
    root, base, _ = server
    (root / "names.txt").write_bytes(damage(_FAKE_NAMES))
    _patch(monkeypatch, "names", _FAKE_NAMES, f"{base}/names.txt")
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    with pytest.raises(data.DataError, match=message) as exc:
        data.fetch("names", progress=False)
    assert "\n" not in str(exc.value) and data.DATA_ENV in str(exc.value)
    assert list(_isolated_cache.iterdir()) == []  # no partial or unverified file in the cache
    with pytest.raises(data.DataError):
        data.load_names()
    assert list(_isolated_cache.iterdir()) == []


def test_http_error_and_missing_data_give_one_line_advice(server, tmp_path, monkeypatch, _isolated_cache):
    _, base, _ = server
    _patch(monkeypatch, "names", _FAKE_NAMES, f"{base}/missing.txt")
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path))  # a data folder without names.txt
    with pytest.raises(data.DataError, match="404") as exc:
        data.fetch("names", progress=False)
    msg = str(exc.value)
    assert "\n" not in msg and f"set {data.DATA_ENV} to a folder holding names.txt" in msg
    with pytest.raises(data.DataError, match="dlgrade data fetch names"):
        data.verify("names")  # verify never downloads
    with pytest.raises(data.DataError, match="cifar-10-python.tar.gz"):
        data.verify("cifar10")
    assert not any(p.is_file() for p in _isolated_cache.rglob("*"))


def test_damaged_cache_file_is_downloaded_again(server, monkeypatch, _isolated_cache):
    root, base, gets = server
    (root / "names.txt").write_bytes(_FAKE_NAMES)
    _patch(monkeypatch, "names", _FAKE_NAMES, f"{base}/names.txt")
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    _isolated_cache.mkdir()
    (_isolated_cache / "names.txt").write_bytes(_FAKE_NAMES[:-1] + b"X")
    assert data.verify("names") == [("names.txt", False)]
    assert data.fetch("names", progress=False).read_bytes() == _FAKE_NAMES
    assert gets == ["/names.txt"]
    assert data.verify("names") == [("names.txt", True)]


def test_corrupt_copy_in_data_folder_is_an_error(tmp_path, monkeypatch, _isolated_cache):
    folder = tmp_path / "data"
    folder.mkdir()
    _patch(monkeypatch, "names", _FAKE_NAMES, (tmp_path / "nowhere.txt").as_uri())
    (folder / "names.txt").write_bytes(_FAKE_NAMES.replace(b"name1\n", b"name7\n", 1))
    monkeypatch.setenv(data.DATA_ENV, str(folder))
    with pytest.raises(data.DataError, match=f"corrupt.*unset {data.DATA_ENV}") as exc:
        data.fetch("names")
    assert "\n" not in str(exc.value)
    with pytest.raises(data.DataError, match="corrupt"):
        data.load_names()
    assert data.verify("names") == [("names.txt", False)]
    (folder / "names.txt").write_bytes(_FAKE_NAMES)
    assert data.fetch("names") == folder / "names.txt"
    assert not _isolated_cache.exists()  # used in place, nothing copied


# --------------------------------------------------------------------------- CIFAR-10 archive handling (synthetic)

_FAKE_MEMBERS = {m: os.urandom(1000 + i) for i, (m, _, _) in enumerate(data.DATASETS["cifar10"].members)}


def _fake_cifar(monkeypatch, *, official_archive=None):
    """Point DATASETS['cifar10'] at synthetic members (and, optionally, an archive file)."""
    ds = data.DATASETS["cifar10"]
    members = tuple((m, hashlib.md5(b).hexdigest(), hashlib.sha256(b).hexdigest())
                    for m, b in _FAKE_MEMBERS.items())
    ds = dataclasses.replace(ds, members=members)
    if official_archive is not None:
        content = official_archive.read_bytes()
        ds = dataclasses.replace(ds, urls=(official_archive.as_uri(),), size=len(content),
                                 md5=hashlib.md5(content).hexdigest(),
                                 sha256=hashlib.sha256(content).hexdigest())
    monkeypatch.setitem(data.DATASETS, "cifar10", ds)
    return ds


def _tar(path, entries):
    """entries: (name, bytes) regular files, or (name, ('symlink', target))."""
    with tarfile.open(path, "w:gz") as tf:
        for name, content in entries:
            info = tarfile.TarInfo(name)
            if isinstance(content, tuple):
                info.type, info.linkname = tarfile.SYMTYPE, content[1]
                tf.addfile(info)
            else:
                info.size = len(content)
                tf.addfile(info, io.BytesIO(content))
    return path


def _good_entries():
    return [(f"cifar-10-batches-py/{m}", b) for m, b in _FAKE_MEMBERS.items()]


def test_repacked_archive_is_accepted_by_its_members_and_extracted_safely(tmp_path, monkeypatch, _isolated_cache):
    folder = tmp_path / "data"
    folder.mkdir()
    # The "official" archive differs (other order, other headers); ours only has the same members.
    _fake_cifar(monkeypatch, official_archive=_tar(tmp_path / "official.tar.gz", _good_entries()[::-1]))
    evil = [("../evil1", b"x"), ("cifar-10-batches-py/../../evil2", b"x"), ("/tmp/dlgrade-evil3", b"x"),
            ("cifar-10-batches-py/readme.html", b"<html>"), ("cifar-10-batches-py/sub/data_batch_1", b"x")]
    _tar(folder / "cifar-10-python.tar.gz", evil + _good_entries())
    monkeypatch.setenv(data.DATA_ENV, str(folder))

    assert data.fetch("cifar10") == folder / "cifar-10-python.tar.gz"
    assert data.verify("cifar10") == [(m, True) for m in _FAKE_MEMBERS]
    extracted = _isolated_cache / "cifar-10-batches-py"
    assert sorted(p.name for p in extracted.iterdir()) == sorted(_FAKE_MEMBERS)
    assert all((extracted / m).read_bytes() == b for m, b in _FAKE_MEMBERS.items())
    assert sorted(p.name for p in _isolated_cache.iterdir()) == ["cifar-10-batches-py"]  # no temp dirs
    assert not [p for p in tmp_path.rglob("evil*")] and not pathlib.Path("/tmp/dlgrade-evil3").exists()

    # An archive with a wrong member is refused by fetch, extraction and verify.
    (folder / "cifar-10-python.tar.gz").unlink()
    bad = [(n, b + b"!" if n.endswith("data_batch_3") else b) for n, b in _good_entries()]
    _tar(folder / "cifar-10-python.tar.gz", bad)
    with pytest.raises(data.DataError, match="data_batch_3"):
        data.fetch("cifar10")
    shutil.rmtree(extracted)
    with pytest.raises(data.DataError, match="md5 mismatch for data_batch_3") as exc:
        data.verify("cifar10")
    assert "\n" not in str(exc.value) and data.DATA_ENV in str(exc.value)
    assert [p.name for p in _isolated_cache.iterdir()] == ["cifar-10-batches-py"]
    assert list(extracted.iterdir()) == []  # nothing half-extracted


@pytest.mark.parametrize("entries", [
    [(n, ("symlink", "/etc/passwd")) if n.endswith("data_batch_1") else (n, b) for n, b in _good_entries()],
    [(n, b) for n, b in _good_entries() if not n.endswith("test_batch")],
    _good_entries() + _good_entries()[:1],
], ids=["symlink", "missing", "duplicate"])
def test_malformed_archive_is_refused(tmp_path, monkeypatch, _isolated_cache, entries):
    folder = tmp_path / "data"
    folder.mkdir()
    _fake_cifar(monkeypatch, official_archive=_tar(tmp_path / "official.tar.gz", _good_entries()[::-1]))
    _tar(folder / "cifar-10-python.tar.gz", entries)
    monkeypatch.setenv(data.DATA_ENV, str(folder))
    with pytest.raises(data.DataError, match="cifar10"):
        data.fetch("cifar10")
    with pytest.raises(data.DataError, match="cifar10"):
        data.verify("cifar10")
    assert not any(p.is_file() for p in _isolated_cache.rglob("*"))


def test_cifar_archive_download_via_http(server, tmp_path, monkeypatch, _isolated_cache):
    root, base, gets = server
    official = _tar(root / "cifar-10-python.tar.gz", _good_entries())
    _fake_cifar(monkeypatch, official_archive=official)
    monkeypatch.setitem(data.DATASETS, "cifar10",
                        dataclasses.replace(data.DATASETS["cifar10"], urls=(f"{base}/cifar-10-python.tar.gz",)))
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    assert data.fetch("cifar10", progress=False).read_bytes() == official.read_bytes()
    assert data.verify("cifar10") == [(m, True) for m in _FAKE_MEMBERS]
    assert gets == ["/cifar-10-python.tar.gz"]


# --------------------------------------------------------------------------- real CIFAR-10

@pytest.fixture(scope="module")
def cifar_cache(tmp_path_factory):
    """One cache for all real-CIFAR tests: extracted and converted once."""
    _real("cifar-10-python.tar.gz")
    cache = tmp_path_factory.mktemp("cifar_cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(data.CACHE_ENV, str(cache))
        mp.setenv(data.DATA_ENV, str(_DATA_DIR))
        data.load_cifar10("test")  # builds cifar-10-batches-py/ and cifar10.npz
    return cache


@pytest.fixture
def cifar(cifar_cache, monkeypatch):
    monkeypatch.setenv(data.CACHE_ENV, str(cifar_cache))
    return cifar_cache


@pytest.fixture(scope="module")
def official_batches():
    """data_batch_1, data_batch_5 and test_batch read straight from the tarball (not via grader.student.data)."""
    archive = _real("cifar-10-python.tar.gz")
    out = {}
    with tarfile.open(archive, "r:gz") as tf:
        for name in ("data_batch_1", "data_batch_5", "test_batch"):
            raw = tf.extractfile(f"cifar-10-batches-py/{name}").read()
            assert hashlib.md5(raw).hexdigest() == data.DATASETS["cifar10"].member_md5[name]
            d = pickle.loads(raw, encoding="bytes")  # trusted: md5 checked just above
            out[name] = (d[b"data"].reshape(-1, 3, 32, 32), np.array(d[b"labels"]))
    return out


def test_real_archive_in_data_folder_verifies():
    archive = _real("cifar-10-python.tar.gz")
    assert data.fetch("cifar10") == archive  # re-packed: accepted through its members


def test_cifar_shapes_dtypes_counts(cifar):
    sizes = {"train": 49000, "val": 1000, "test": 10000}
    for split, n in sizes.items():
        x, y = data.load_cifar10(split)
        assert x.shape == (n, 3, 32, 32) and x.dtype == np.uint8
        assert y.shape == (n,) and y.dtype == np.int64
        assert y.min() == 0 and y.max() == 9
    assert np.bincount(data.load_cifar10("test")[1], minlength=10).tolist() == [1000] * 10
    counts = np.bincount(data.load_cifar10("train")[1], minlength=10) + \
        np.bincount(data.load_cifar10("val")[1], minlength=10)
    assert counts.tolist() == [5000] * 10
    with pytest.raises(ValueError):
        data.load_cifar10("validation")
    assert len(data.CIFAR10_CLASSES) == 10 and data.CIFAR10_CLASSES[3] == "cat"


def test_cifar_matches_the_official_batches(cifar, official_batches):
    x_test, y_test = data.load_cifar10("test")
    assert y_test[:10].tolist() == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]  # cat, ship, ship, airplane, frog...
    np.testing.assert_array_equal(y_test, official_batches["test_batch"][1])
    np.testing.assert_array_equal(x_test, official_batches["test_batch"][0])
    x_train, y_train = data.load_cifar10("train")
    assert y_train[:10].tolist() == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]  # frog, truck, truck, deer...
    np.testing.assert_array_equal(x_train[:10000], official_batches["data_batch_1"][0])
    np.testing.assert_array_equal(y_train[-9000:], official_batches["data_batch_5"][1][:9000])
    x_val, y_val = data.load_cifar10("val")
    np.testing.assert_array_equal(x_val, official_batches["data_batch_5"][0][-1000:])
    np.testing.assert_array_equal(y_val, official_batches["data_batch_5"][1][-1000:])


def test_cifar_verify_and_npz_cache(cifar):
    assert data.verify("cifar10") == [(m, True) for m in data.DATASETS["cifar10"].member_md5]
    with np.load(cifar / "cifar10.npz", allow_pickle=False) as npz:
        assert npz["x_train"].shape == (50000, 3, 32, 32) and npz["x_train"].dtype == np.uint8
        assert npz["x_test"].dtype == np.uint8


def test_cifar_constants_match_recomputation(cifar):
    x, _ = data.load_cifar10("train")
    s = np.zeros(3)
    s2 = np.zeros(3)
    for i in range(0, len(x), 7000):
        c = x[i:i + 7000].astype(np.float64) / 255
        s += c.sum(axis=(0, 2, 3))
        s2 += (c * c).sum(axis=(0, 2, 3))
    n = len(x) * 32 * 32
    mean = s / n
    std = np.sqrt(s2 / n - mean ** 2)
    assert data.CIFAR10_MEAN.shape == data.CIFAR10_STD.shape == (3, 1, 1)
    assert data.CIFAR10_MEAN.dtype == data.CIFAR10_STD.dtype == np.float32
    # 1e-6, not 1e-4: the 50000-image statistics differ from the 49000-image ones by < 1e-4.
    np.testing.assert_allclose(data.CIFAR10_MEAN.ravel(), mean, rtol=0, atol=1e-6)
    np.testing.assert_allclose(data.CIFAR10_STD.ravel(), std, rtol=0, atol=1e-6)


def test_cifar_preprocess_standardises_train(cifar):
    x, _ = data.load_cifar10("train")
    s = np.zeros(3)
    s2 = np.zeros(3)
    for i in range(0, len(x), 7000):
        p = data.cifar10_preprocess(x[i:i + 7000])
        assert p.dtype == np.float32 and p.shape == (min(7000, len(x) - i), 3, 32, 32)
        s += p.sum(axis=(0, 2, 3), dtype=np.float64)
        s2 += (p.astype(np.float64) ** 2).sum(axis=(0, 2, 3))
    n = len(x) * 32 * 32
    np.testing.assert_allclose(s / n, 0, atol=1e-4)
    np.testing.assert_allclose(np.sqrt(s2 / n - (s / n) ** 2), 1, atol=1e-4)


def test_cifar_preprocess_formula_and_input_checks():
    x = np.arange(2 * 3 * 32 * 32, dtype=np.int64).reshape(2, 3, 32, 32).astype(np.uint8)
    want = (x / 255.0 - data.CIFAR10_MEAN.astype(np.float64)) / data.CIFAR10_STD.astype(np.float64)
    np.testing.assert_allclose(data.cifar10_preprocess(x), want, rtol=1e-5, atol=1e-5)
    for bad in (x.astype(np.float32), x[0], x.reshape(2, 32, 32, 3)):
        with pytest.raises(ValueError):
            data.cifar10_preprocess(bad)


def test_corrupt_extracted_batch_is_detected(cifar, tmp_path, monkeypatch):
    cache = tmp_path / "corrupt_cache"
    shutil.copytree(cifar / "cifar-10-batches-py", cache / "cifar-10-batches-py")
    batch = cache / "cifar-10-batches-py" / "data_batch_3"
    raw = bytearray(batch.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    batch.write_bytes(bytes(raw))
    monkeypatch.setenv(data.CACHE_ENV, str(cache))

    results = dict(data.verify("cifar10"))
    assert results.pop("data_batch_3") is False
    assert all(results.values())
    with pytest.raises(data.DataError, match="md5 mismatch for data_batch_3") as exc:
        data.load_cifar10("test")
    assert "\n" not in str(exc.value) and "delete" in str(exc.value)
    assert not (cache / "cifar10.npz").exists()


def test_damaged_npz_is_rebuilt(cifar, tmp_path, monkeypatch):
    cache = tmp_path / "npz_cache"
    shutil.copytree(cifar / "cifar-10-batches-py", cache / "cifar-10-batches-py")
    with open(cache / "cifar10.npz", "wb") as f:  # a stale/damaged derived file
        np.savez(f, x_test=np.zeros((10000, 3, 32, 32), np.uint8), y_test=np.zeros(10000, np.int64))
    monkeypatch.setenv(data.CACHE_ENV, str(cache))
    x, y = data.load_cifar10("test")
    assert y[:10].tolist() == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1] and x.any()


def test_altered_npz_is_not_used(cifar, tmp_path, monkeypatch):
    """A well-formed cifar10.npz (right version, sources, shapes and CRCs) holding other pixels
    fails the decoded arrays' sha256 and is rebuilt from the verified batches."""
    cache = tmp_path / "altered_cache"
    shutil.copytree(cifar / "cifar-10-batches-py", cache / "cifar-10-batches-py")
    with np.load(cifar / "cifar10.npz", allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["x_test"][0, 0, 0, 0] ^= 1
    with open(cache / "cifar10.npz", "wb") as f:
        np.savez(f, **arrays)
    monkeypatch.setenv(data.CACHE_ENV, str(cache))
    x, _ = data.load_cifar10("test")
    assert x[0, 0, 0, 0] == arrays["x_test"][0, 0, 0, 0] ^ 1  # the official pixel, from a rebuilt cache
    with np.load(cache / "cifar10.npz", allow_pickle=False) as npz:
        np.testing.assert_array_equal(npz["x_test"], x)


def test_cached_test_split_loads_fast(cifar):
    """Once decoded, the test split is read and verified from the cache, not decoded again."""
    import time
    data.load_cifar10("test")
    start = time.perf_counter()
    x, _ = data.load_cifar10("test")
    data.cifar10_preprocess(x)
    assert time.perf_counter() - start < 2.0  # typically ~0.1 s; 2 s leaves room for a busy machine


# --------------------------------------------------------------------------- names, Shakespeare (real)

def test_names_splits():
    lines = _real("names.txt").read_text().split("\n")
    assert len(lines) == 32033
    a, b = data.load_names(), data.load_names()
    assert a == b  # deterministic
    assert (len(a["train"]), len(a["val"]), len(a["test"])) == (30033, 1000, 1000)
    # The splits partition the 32033 lines (names.txt has duplicate names, so compare multisets).
    assert collections.Counter(a["train"]) + collections.Counter(a["val"]) + collections.Counter(a["test"]) \
        == collections.Counter(lines)
    perm = np.random.default_rng(42).permutation(len(lines))  # the documented rule
    assert a["test"] == [lines[i] for i in perm[:1000]]
    assert a["val"] == [lines[i] for i in perm[1000:2000]]
    assert a["train"][:5] == [lines[i] for i in perm[2000:2005]]
    assert all(n.isalpha() and n.islower() for split in a.values() for n in split)
    assert data.verify("names") == [("names.txt", True)]


def test_shakespeare_splits():
    text = _real("tinyshakespeare.txt").read_text()
    s = data.load_shakespeare()
    assert sum(len(v) for v in s.values()) == 1115394
    assert s["train"] + s["val"] + s["test"] == text
    assert len(s["test"]) == 1115394 - 1115394 * 9 // 10 == 111540  # the last 10%
    assert text.endswith(s["test"]) and text.startswith(s["train"])
    assert len(s["train"]) == 1115394 * 8 // 10
    assert s["train"].startswith("First Citizen:")
    assert data.verify("shakespeare") == [("tinyshakespeare.txt", True)]


def test_cifar_arrays_are_verified_once_per_process_and_read_only(cifar, monkeypatch):
    """A second load reuses the verified arrays; they cannot be written into."""
    x, y = data.load_cifar10("test")
    reads = []
    real = arraycache.read_arrays
    monkeypatch.setattr(arraycache, "read_arrays", lambda spec, keys: reads.append(keys) or real(spec, keys))
    x2, y2 = data.load_cifar10("test")
    assert reads == [] and x2 is x and y2 is y
    for a in (x, y, data.load_cifar10("train")[0], data.load_cifar10("val")[1]):
        with pytest.raises(ValueError, match="read-only"):
            a[0] = 0


def test_cifar_npz_rewritten_in_place_is_verified_again(cifar, tmp_path, monkeypatch):
    """The same path holding other bytes (a new file identity) is read and verified again: altered
    pixels are refused and the file rebuilt."""
    cache = tmp_path / "rewritten_cache"
    shutil.copytree(cifar / "cifar-10-batches-py", cache / "cifar-10-batches-py")
    shutil.copy(cifar / "cifar10.npz", cache / "cifar10.npz")
    monkeypatch.setenv(data.CACHE_ENV, str(cache))
    x, _ = data.load_cifar10("test")
    official = int(x[0, 0, 0, 0])
    with np.load(cache / "cifar10.npz", allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["x_test"][0, 0, 0, 0] ^= 1
    with open(cache / "cifar10.npz", "wb") as f:
        np.savez(f, **arrays)
    x, _ = data.load_cifar10("test")
    assert x[0, 0, 0, 0] == official
    with np.load(cache / "cifar10.npz", allow_pickle=False) as npz:
        assert npz["x_test"][0, 0, 0, 0] == official  # rebuilt


def test_cifar_test_set_is_preprocessed_once(cifar):
    x, y = data.cifar10_test_set()
    raw, labels = data.load_cifar10("test")
    np.testing.assert_array_equal(x, data.cifar10_preprocess(raw))
    assert y is labels and x.dtype == np.float32 and not x.flags.writeable
    again, _ = data.cifar10_test_set()
    assert again is x
