"""The course's datasets: what `dlgrade data` fetches and verifies, and the loaders the training
scripts and items read them with (`from grader.data import load_cifar10`).

A dataset is declared once, here: its name, official URLs, file name, size and checksums (and, for
an archive, the members read) as a `grader.data.Dataset` in `DATASETS`, then a loader built on
`read_text` (text files, checked on every read), `extract_members` (archives, each member checked)
and `grader.student.arraycache` (decoded arrays cached and verified). docs/data.md shows how.

Splits (all deterministic):

* CIFAR-10: ``train`` = the first 49000 images of ``data_batch_1`` .. ``data_batch_5`` in
  order, ``val`` = the last 1000 (the end of ``data_batch_5``), ``test`` = ``test_batch``.
  The decoded arrays are cached as ``cifar10.npz`` (uint8 images, int64 labels), verified against
  the sha256 of the official decoded arrays, and rebuilt from the verified batches when stale.
* names: the lines of ``names.txt`` (duplicates kept, 32033 names) are permuted with
  ``np.random.default_rng(42).permutation(n)``; ``test`` = the first ``min(1000, n // 10)``
  names of the permutation, ``val`` = the next as many, ``train`` = the rest, each in
  permutation order.
* Shakespeare: contiguous character ranges, ``train`` = ``text[:n*8//10]``,
  ``val`` = ``text[n*8//10:n*9//10]``, ``test`` = ``text[n*9//10:]``.
* IMDB: the official ``train`` and ``test`` splits (25000 reviews each, no validation split:
  take one from ``train``). Within a split, the 12500 ``neg`` reviews (label 0) by id
  (``neg/0_3.txt``, ``neg/1_1.txt``, ...), then the 12500 ``pos`` reviews (label 1) by id: review
  ``i`` is ``neg`` id ``i`` for ``i < 12500``, else ``pos`` id ``i - 12500``. Only the labelled
  reviews are read; the texts are the files' UTF-8 text, unchanged (``<br />`` kept). The decoded
  arrays are cached as ``imdb.npz`` (one uint8 buffer of UTF-8 bytes and int64 offsets per split),
  built from an archive whose reviews matched the content digest, verified like ``cifar10.npz``.

Every loader takes ``download=False`` to refuse a download (`dlgrade check`).
"""
import hashlib
import pathlib
import re
import zlib

import numpy as np

from grader.student.arraycache import MEMO_LOCK, ArrayFile, load_numpy_pickle, verified_arrays, write_arrays
from grader.student.data import (DATASETS as REGISTERED, DataError, Dataset, check_bytes, extract_members, one_line,
                                 read_archive, read_text)

CIFAR10 = Dataset(
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
    )
IMDB = Dataset(
        name="imdb",
        urls=("https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",),
        filename="aclImdb_v1.tar.gz",
        # size and sha256 as Hugging Face's `imdb` dataset lists them; md5 as torchtext lists it.
        size=84125825,
        md5="7c2ac02c03563afcf9b574c7e56c153a",
        sha256="c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
        local_filenames=("aclImdb_labelled.tar.gz",),  # ../shared/data's re-packed labelled part
        member_pattern=r"aclImdb/(train|test)/(pos|neg)/[0-9]+_[0-9]+\.txt",
        member_count=50000,
        content_sha256="cc143339df6a1f848b662a2bdc9f158f636028e69234e58742f821c6b2ab3444",
        description="IMDB Large Movie Review Dataset v1.0 (Maas et al. 2011), 50,000 labelled reviews",
    )
DATASETS = (
    CIFAR10,
    IMDB,
    Dataset(
        name="names",
        urls=("https://raw.githubusercontent.com/karpathy/makemore/master/names.txt",),
        filename="names.txt",
        size=228145,
        md5="401b3c4cac9e28a586ed15e81256680d",
        sha256="0a30b5557f192f32ab962680889aac5f6fda0f4cecf40a6d0b5694f58ea8cc4d",
        description="makemore names (32033 lowercase names, one per line)",
    ),
    Dataset(
        name="shakespeare",
        urls=("https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",),
        filename="tinyshakespeare.txt",
        size=1115394,
        md5="6fb458f1232090904fb40fe944165e91",
        sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        description="tiny Shakespeare (char-rnn, 1115394 characters)",
    ),
)


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
_NPZ_SHAPES = {"x_train": ((50000, 3, 32, 32), np.uint8), "y_train": ((50000,), np.int64),
               "x_test": ((10000, 3, 32, 32), np.uint8), "y_test": ((10000,), np.int64)}
_PREPROCESSED: dict = {}  # the test split preprocessed, while its verified arrays are the same


# --------------------------------------------------------------------------- CIFAR-10
def _read_batch(folder: pathlib.Path, member: str) -> tuple[np.ndarray, np.ndarray]:
    ds = REGISTERED["cifar10"]
    p = folder / member
    try:
        data = p.read_bytes()
    except OSError as e:
        raise DataError(f"cifar10: cannot read {p} ({one_line(e)}); delete {folder} and retry "
                        f"(it is extracted again from {ds.filename})") from None
    _, md5, sha = next(m for m in ds.members if m[0] == member)
    if hashlib.md5(data).hexdigest() != md5 or hashlib.sha256(data).hexdigest() != sha:
        raise DataError(f"cifar10: md5 mismatch for {member} in {folder}; "
                        f"delete {folder} and retry (it is extracted again from {ds.filename})")
    # pickle is only acceptable here because the bytes just matched the official checksums
    # (instructor-side trusted data path); the restricted unpickler is a second guard.
    try:
        batch = load_numpy_pickle(data)
        x = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        y = np.asarray(batch[b"labels"], dtype=np.int64)
    except Exception as e:  # pragma: no cover - cannot happen for the official bytes
        raise DataError(f"cifar10: cannot decode {p} ({one_line(e)})") from None
    if len(x) != 10000 or len(y) != 10000:  # pragma: no cover - official bytes
        raise DataError(f"cifar10: {p} does not hold 10000 images")
    return x, y

def _arrays():
    """The cache file of the decoded arrays (grader.student.arraycache), built from these members."""
    sources = tuple(f"{m}:{md5}" for m, md5, _ in REGISTERED["cifar10"].members if m != "batches.meta")
    return ArrayFile(filename="cifar10.npz", version=1, sources=sources,
                     arrays={k: (shape, dtype, _CIFAR_ARRAY_SHA256[k]) for k, (shape, dtype) in _NPZ_SHAPES.items()})


def _build_npz(download: bool = True):
    folder = extract_members("cifar10", download=download)
    train = [_read_batch(folder, m) for m in _CIFAR_TRAIN]
    x_test, y_test = _read_batch(folder, "test_batch")
    write_arrays(_arrays(), {"x_train": np.concatenate([x for x, _ in train]),
                                  "y_train": np.concatenate([y for _, y in train]),
                                  "x_test": x_test, "y_test": y_test}, "cifar10")


def load_cifar10(split: str, *, download: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 images and labels: ``x`` uint8 ``(N, 3, 32, 32)``, ``y`` int64 ``(N,)``, read-only.

    ``split``: ``"train"`` (the first 49000 images of data_batch_1..5, in order), ``"val"``
    (the last 1000) or ``"test"`` (test_batch, 10000). Fetches/extracts on first use. The
    arrays are verified when first read in a process and then reused (views of them: copy
    before modifying).
    """
    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be 'train', 'val' or 'test', not {split!r}")
    keys = ("x_test", "y_test") if split == "test" else ("x_train", "y_train")
    with MEMO_LOCK:  # threads grading submissions side by side read and verify the file once
        arrays = verified_arrays(_arrays(), keys)
        if arrays is None:
            _build_npz(download)
            arrays = verified_arrays(_arrays(), keys)
            if arrays is None:  # pragma: no cover - only if the cache is being clobbered
                raise DataError(f"cifar10: cannot read {_arrays().path} just written; "
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


def cifar10_test_set(*, download: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The test split preprocessed: ``(cifar10_preprocess(x), y)``, read-only, computed once per
    process from the verified arrays of :func:`load_cifar10` and reused while they are (what the
    accuracy items evaluate every submission's weights on)."""
    x, y = load_cifar10("test", download=download)
    with MEMO_LOCK:
        hit = _PREPROCESSED.get("test")
        if hit is None or hit[0] is not x:
            pre = cifar10_preprocess(x)
            pre.flags.writeable = False
            hit = _PREPROCESSED["test"] = (x, pre)
    return hit[1], y


# --------------------------------------------------------------------------- text
def load_names(*, download: bool = True) -> dict[str, list[str]]:
    """The makemore names split into ``{"train", "val", "test"}`` lists (see the module docstring)."""
    names = [line.strip() for line in read_text("names", download=download).splitlines()]
    names = [n for n in names if n]
    perm = np.random.default_rng(_NAMES_SEED).permutation(len(names))
    n_held = min(1000, len(names) // 10)
    return {
        "train": [names[i] for i in perm[2 * n_held:]],
        "val": [names[i] for i in perm[n_held:2 * n_held]],
        "test": [names[i] for i in perm[:n_held]],
    }


def load_shakespeare(*, download: bool = True) -> dict[str, str]:
    """Tiny Shakespeare as contiguous ``{"train": 80%, "val": 10%, "test": last 10%}`` strings."""
    text = read_text("shakespeare", download=download)
    n = len(text)
    a, b = n * 8 // 10, n * 9 // 10
    return {"train": text[:a], "val": text[a:b], "test": text[b:]}



# --------------------------------------------------------------------------- IMDB
_IMDB_N = 25000  # reviews per split, half neg, half pos
# Of the arrays decoded from the reviews that matched IMDB.content_sha256 (as _CIFAR_ARRAY_SHA256):
# key -> (shape, sha256); text_* uint8, offsets_* and y_* int64.
_IMDB_ARRAYS = {
    "text_train": ((33132823,), "adb4d9156083e5775c19e35f96b746f60d1716683b9e6911284fc3e2c7c2157b"),
    "offsets_train": ((_IMDB_N + 1,), "dc676d79380333a1646fb7047a293da92e1189eb7ef2afac922dd30a562e7100"),
    "y_train": ((_IMDB_N,), "82ab65b9803953c4fd8be401ab3328d10bae787b1256f8a8f09b96d514bf3435"),
    "text_test": ((32350685,), "75055f6305824731d1116d3ad0e8b8b18c7e2e50bddaf2786d3d4ed5ea0c19a8"),
    "offsets_test": ((_IMDB_N + 1,), "43db0d6ca1700e43f30e4ecf4eaa4e60e334734724bd5eb388b6bc53bf5cdec2"),
    "y_test": ((_IMDB_N,), "82ab65b9803953c4fd8be401ab3328d10bae787b1256f8a8f09b96d514bf3435"),
}
_IMDB_TEXTS: dict = {}  # split -> (the verified buffer, the texts decoded from it)


def _imdb_arrays():
    """The cache file of the decoded reviews, keyed by the content digest they matched."""
    return ArrayFile(filename="imdb.npz", version=1, sources=(f"imdb:{IMDB.content_sha256}",),
                     arrays={k: (shape, np.uint8 if k.startswith("text") else np.int64, sha)
                             for k, (shape, sha) in _IMDB_ARRAYS.items()})


def _imdb_decode(members: dict[str, bytes]) -> dict[str, np.ndarray]:
    """The verified members as arrays: per split, the reviews in the documented order (neg by
    id, then pos by id) concatenated as one uint8 buffer, int64 offsets (review ``i`` is
    ``text[offsets[i]:offsets[i + 1]]``) and int64 labels."""
    out = {}
    for split in ("train", "test"):
        order = []
        for label, folder in ((0, "neg"), (1, "pos")):
            prefix = f"aclImdb/{split}/{folder}/"
            ids = sorted((int(m[len(prefix):].split("_")[0]), m) for m in members if m.startswith(prefix))
            order += [(label, m) for _, m in ids]
        sizes = np.array([len(members[m]) for _, m in order], dtype=np.int64)
        out[f"text_{split}"] = np.frombuffer(b"".join(members[m] for _, m in order), dtype=np.uint8)
        out[f"offsets_{split}"] = np.concatenate([np.zeros(1, np.int64), np.cumsum(sizes)])
        out[f"y_{split}"] = np.array([label for label, _ in order], dtype=np.int64)
    return out


def load_imdb(split: str, *, download: bool = True) -> tuple[tuple[str, ...], np.ndarray]:
    """IMDB reviews of ``split`` (``"train"`` or ``"test"``, 25000 each): ``(texts, y)``, the
    reviews as str (UTF-8, unchanged: ``<br />`` kept) and int64 labels ``(N,)`` (1 = pos,
    0 = neg), read-only; order: the 12500 neg reviews by id, then the 12500 pos reviews by id.

    The first call decodes the labelled reviews of the archive (checked against the content
    digest) into ``imdb.npz`` in the cache; later calls read that file, verified once per
    process, and reuse the decoded texts.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    keys = (f"text_{split}", f"offsets_{split}", f"y_{split}")
    with MEMO_LOCK:
        arrays = verified_arrays(_imdb_arrays(), keys)
        if arrays is None:
            write_arrays(_imdb_arrays(), _imdb_decode(read_archive("imdb", download=download)), "imdb")
            arrays = verified_arrays(_imdb_arrays(), keys)
            if arrays is None:  # pragma: no cover - only if the cache is being clobbered
                raise DataError(f"imdb: cannot read {_imdb_arrays().path} just written; "
                                f"delete it and retry")
        text, offsets, y = arrays
        hit = _IMDB_TEXTS.get(split)
        if hit is None or hit[0] is not text:
            raw, bounds = text.tobytes(), offsets.tolist()
            hit = _IMDB_TEXTS[split] = (text, tuple(raw[a:b].decode("utf-8")
                                                     for a, b in zip(bounds[:-1], bounds[1:])))
    return hit[1], y


# --------------------------------------------------------------------------- Melbourne temperatures
# Shipped with the course, not downloaded: `daily-min-temperatures.csv` from jbrownlee/Datasets
# (snapshot d20fcb6402ae34e653d4513b00f39257bb37ed7f; its `.names` file: "Daily minimum
# temperatures in Melbourne, Australia, 1981-1990. Source: Time Series Data Library (citing:
# Australian Bureau of Meteorology)"; no licence stated; ../shared/data/README.md). 3650 rows
# `"YYYY-MM-DD",T` (degrees Celsius, one decimal; CRLF line ends, none after the last row),
# 1981-01-01 to 1990-12-31 without 1984-12-31 and 1988-12-31. Stored as the temperatures in tenths
# of a degree (little-endian uint16, zlib, base64); `load_temperatures` rebuilds the CSV from them
# and checks it byte for byte against the official file's size, md5 and sha256.
TEMPERATURES_CSV = ("daily-min-temperatures.csv", 67921, "5d343d678173fadff7c8474073145e73",
                    "8b9de63ed6789492bf497625e7f9beb96a63d367b4b0a21754006f749fa5e5da")
TEMPERATURES_SPLIT = "1989-01-01"  # train: 1981-1988 (2920 days); test: 1989-1990 (730 days)
_TEMPERATURES = (
    "eNo9mXdw1NcRx9fJJE7+SJ0hjnvBGAwGmy4EElZFHaHTqZzKSYekUz+hXk/S6VRQOTWQRBGIE8iYamyMu7FNnLh74mTsFNvj"
    "TDL5I/8kmfyTyeSPfHbtydz82nv7dvftfnffvncfy3PyqszIKftdkT/IOxKWQXlKPpP/yMfykfxbrskJuSEdMiVLck5ekbfk"
    "Ei3zclyOMfaP8itZkfPwuMiIOTksY/KCfC5fyG/lRXrOyCL3c4yekpfkablK+7PyslyA26BMSqMsQ9MqnTLL/ZBUS4uEpAHK"
    "p+SAZEqeDEkdVz28F2UaLZ9C2lWkPQ/fMjkqpyUgadIkwzwH0bNbgjIKHxe9HtrzJUUOShFXiuRIm4xzL4O6XaqkBhnl0G6X"
    "WHEi1SO75QFZJQ/JDilhbJf4kdyAlq3SJ81QevjaJfvkTlktm+jbJelSSX+hRMndskH2yiPyGP1PSKRESzLtFeLmV4PMGElE"
    "hwPIcqDVJolndBRtSYzKky30laOViz4P90I4Z9K/Go1Uis4nWhLgEs+YbXKfRMh+WnPEy0zSpFR64LBf1sJ/ExR7ZCeydjIm"
    "EwoP83FKKtrPYOEMZlbO/JKx7QS6PQ2HGGazl2cSvGqgKGFW3egSREI070G8lSz99EQjuQxbO5hbDm2VcA1CUYDkbPQIokk9"
    "vxbm0CQjYKKSZxocQ/iwil8pFjkE72L80YJ3/WhzCso2vOQHH3O8D0EXYlyAr1lae/DZEbBXio/7kHhWTqJDvfjo7+MK4dkT"
    "tJyUBZB8gZZh3gKMm2BcGP435UtDywTv/5Dr8rb8Vz6UN/m6AFYHsUwPbxfhM8PXETA+gB635M9IHQbvF+QN+YvcftsN3o4g"
    "8wSyBpAxwbgZ5jiG/sNYepzouQVOb6Kdek35XmLsl8w+ZP1Xia2T2GkaLF9ipiFsWwGHLjg04Kd2LN+PTdQO3Vxn4BcCw+WG"
    "4QwsHSCm+kFDguQioRbP7mXsKDith8qJ39PoqYVbgawBD7FIW6AtG1w44OHDiv1o0oOFE8GrS+4H0yI/lrtA2x2yUbLgnQx1"
    "MqMy+cXzpvjLl3XyA/keWE82VK63MQ+Bu0Q02y4/l3ugSOU9Qh4E1Wvo2SbfYsT3wXIsnnfx3IiUCOSWok0BI35GyyP8otGn"
    "wnDtRnYWCNrAmGK0j5Wt6KzWUXSHpBe91jH3KmSothuwbCTvTsY+LHH81H75yFkP3Xbs44R3OhwzeN+LDaLgelAeZ9RREJ+D"
    "lF3EwwB+yIJXKu0eNFH7VjP/CvAwxmgXoxJpSUDDHnxzjUx2CC2miDIXdp0GWX3wK2BkN7j1gv8lMNYBdSfvZ8CNRmw9/grQ"
    "Us1dn35y6wI5dQxabTkMCmpBibYEuC/Tfo37i8yqjmg7YnEQhlsAbgVcrdiklzmOgt5m8NpNXM/C/yTa+GmdxN/Py2Xol5hx"
    "WN6XP4G+02BwFE6Kys94H2EGGqdvE0VTcLgpH8i7ZPnPiZUvWBHmuD5j9AR0v2H0AhbTiF+QZ9DlKTScR4syNPRb1hsD3z3w"
    "z8A2NXg8DisXQH2C7xa09eDzOKydh40r4XkOzlWMDWA/zYca94e5amhp5mrgvR80lkHbwshNspmocMAhGhlBrBrDVwfRkspV"
    "jw23g5QI8loJfnNA8zijk3hz83af/AjcR8M5ll8m/n4QvO4BMTvBiweaJFuHnOjnANubWSHiiKIYKB9llUiF+k5bP0RuR04X"
    "CClhVJllbwe/jdAW89PV5iAUkfBSXzgYdR+R4cUOVSAnIE/CN472BkbrqlSHpdzYxGcoyYPzTuwXA9K3QJOKbUagdmKNdPiu"
    "hvI4dCXMeowWN20JzDTSIr4AOwbxWg8oqYZ/J5HhhUczlu7HjuNormuOx/p11cuidwSU1cGrAivWGodcdPIQ+bXwCIOFaRBw"
    "FLycAknPYPVG5hFEs2NgoIN51vF+DroGdJqD2xzY/IAI6QQpoyBujnYfMaFtt8i9F6Gvt5ogAG4WkDnJ+JfpvQHvNsYdAW+9"
    "WGyU6mMMvtVgfABZs/AJgPUQyLoO39M8T1EjjEA5Q/sKnJblNaLsa4wNM+t5Q5Mf21bBYRoNxqFW3o2M0BwZYgYhvufp0fms"
    "sDoVY48ULDHOLH1kMC92y+LZjbYunuVwbaenFtR7wG49FgkwJohnfFDnIrkHP5bAbxbPPAHmVmPXneDTDUY2k52eAJP78EAx"
    "1G4kuxnrBFEeqyrqsH4usmqRmcTPZ2vDWnCRRS7dAGJ9YHs7VBFk1n2W8cu5J+FLXT2Kud8FmteSyVcxlyQskG8ReLvcRp7O"
    "oCWTyNoGeuLhlgrSN4HPUjTUbKg52se88tG2BQy50DgX/VTDPRYt6WDZhcR4NIvjLRmK/fBzkSsLuRKNv5N5FVs9sJnvSCxQ"
    "Z1VDPhRadcSiaxTSaxi9Ez7raV+G3guvdLKYrqwHwMQls9NurJbCWylaxWCpG1AXYOVhy0NO/LyCrp14pxCKNjz8Oh7qNF+1"
    "Ei0BcLUEvkJQ50GZA/9/8aw1TPp5FvAMMOYgrVUgrNPqix7Q0kHm7EBeJaMb8fm5bzj74XgWzC8YamcMC53k1cOgbYLn21Ce"
    "Rno7o6bw5rzVL32MuEo0DxMlC8RXBSh+nZx8He2+Xg0modMs7qNFV486eK+Q3YewjSLei6RJImAWqZr9Pbb+r8gn8hXVy+/l"
    "U2IqjM5a+VziehU9BuFzyDA+ztizWGiRmL6KfmFk6T1MhNxglzAP9wOGyWpbSeOxfjZfuhq3g7Rirkz6RpiDC5vUY5sheMeh"
    "Ry3o2mi5KdXqFDfY2GG1agM0zYzcwNdjeHMXaM7C5zHmj1jGlYPldEYlMzqb973yXaoPzeq6PlcjqRlZNfSvB/8R0KZaxs4A"
    "W4mMiOZbo+0B+/o2v1Vw+yGZ3At/rcW3wjMBX1RaVCdBvw4+mvHrufKYq4OWh9FNKwDdYSQx54eJtWxDpZNLozQOOQfxo+K5"
    "5ZtsugPaUouLXKQ1g4g45pbOl/LI4d6IhaNArA/L1eC7ZmaSyfcSFu+zjJCNTF1dKxhZiIdmGRMP6hXTirWLYGMQqwdBk9bD"
    "n0Bbgk/Us0GklDOHw+bPcZ66LneBizm8fQYE3eC5As9Tlh+1ch/Bc71wDNnert3W+kHiX2NiGRn9ttfy0+en77jVoFOWtzuN"
    "o86yj+9Rq8db0W6Ya9R2m8foP8I8m5EyRd8ptGolLmqQdguEPgdNL7Tjts4MMNMepA5Be40o0Hr9LAh+h9ZebNxru7slZCmK"
    "fMTHBXacV8B1GE2CVpW1EE8nsZ0Xjtct07di9WbsF0JfF7Z4G6pupGhO6KW1mbcmfK4rdAK49pED0rFppXlZq/Qu2rWaK6Wv"
    "yXar7dis0ux+CDzsxfc1SHTTUwe2t0GrO8lio3AzTuuSRLyYAM80ZqErwS5+seTSBKsj1lI932MSG+nfRs8usqdi+gki5TEw"
    "V03uTwMDpfg3Ht71VCWrQJzWRClEZhGSnFaVFDGD1SD2TvkJO9Z7QW66rQjJYKsQzrqOVRAzuvqUYpUIuDjgX8Bs6sjMe7FE"
    "lOXVPfCrR4KDHo3tWLRLgDKHrx7Qn8A8MqAI856LjbSKcdDmYiVJwnLtyNR4mEW3/WjtZ2apUKZBkYTNBvByLZYswKufwCUH"
    "/Xpsn+u1jKzVxDHea+CdT/5owncFhrkGeKVCMQ0CjsNnWd6jtxv9e9GiGzs6kdpuWbIC2ma46n5zltEhsNJCTuwCH8dAS5jR"
    "56Fz2irezbVi+7M5sNNsFX0DX1p1LzKnJih7ycua/7Uab7bcr7l03vJhB3M5DwfN8teYlUp1w093yEF4TsBryKqeZ2g7iHaH"
    "6G+ltwpbBJjPK1AFaA3Y7tfLs8swrRE5aJXFYeS/h9ZjRHsy0aO7hmpmmAHHSiTsw1YZ5lEXel1En2H0TLR1swHOrTz34V8P"
    "NH3MpAUJnbTWIKUMD+oergsvFYG5DfhSM7qT0WVmTc2ju/FHALvuACMZtke8j5wfjbRWkFbClQhFET5PtSr5bhD+KNwiwfKj"
    "3AvAwxYQ/zhUO2x3WgzuEpEVR71+L6jfSwQkgnWtgkrgkc2cXGA5n5bN9KRyFdhMIpC+AYqt8ChAy2qrhTRet6DpDqQlW72V"
    "Ziual3EuZqF1i8fOQQqxt+5rtZ4ex7JH2clfsH2IUhdhrxgs70BuLuMSkF4G5bTtLcutIqiDRxWxoWcDA8htpGeK9fyvYLME"
    "63VYdaH1a7nVz21w1rOLF+WfdjqTa/u5g1A22X5Kz0l8ZJViw1c9MobQasEq7DDe/hBePUhVBOrZVYPl8LCdMujZnlYPw3a2"
    "sMBMXsHDV+QFfl+Rc39tu7gVqE8yh3HuXbZHOMq+8VP5G3pPWDaet32dxuO8Vc7LcDnKnFvhGrbVY85OXfQ08Rgz0SjqhttR"
    "WjWvnkePMOPK4K2oGOJ90fa6h60GmuItDM0JYucq69IZ+Gu+H6EO0VWvGJztZ+6LzOG05ZUc2xW02y6gG6mneT/MbCa5L8D9"
    "qPGaRt4IFqmnN55xA7YPCFoElplNveAgF6o67kUgI8Nw7aNFa95cy9hZYCeGeeeDoHtkDZxiwU2y5eEDYDSTMXHwKgL/kSBi"
    "C/jsQi9dq9PQTnNrmZ1JKPo1N0cwXuvnLK4SJOyzbOyBm64TW+Gme7kcELwWrGbjEz3p1H1iKfrvpycdSbnIjyMqSsFwK7PW"
    "emwnHPKQFeA7CILiiapt3GsYq/XLTiywAscs27Hkcem5hYvWWWzgZAa9Nu8ubBqBLfWc9OsdTBZ+8jKnUuYxCQqTQVwbb83I"
    "OQEGdO/ciqd77JzPa6e/qXb21IT0RagDZEz1T4dhoBGaFjxxhTFhq6y78ft7UNSDBz2R+Fj+jq5X8aXGwAKY/CVVgxsu/eBq"
    "AsorZMjz8HeTsRbB3IidfGj1eVneYuwYHl8CBXN2oriAnHPyrnyEbueQNcWIRVsBzsNHI0XPN64SG2/xu0VkLTLyDHICFmlB"
    "pL/E3vVzdPuFvA/da9w/5fksvX0gWaNAzzDmyLOXTcoIo4otp1diOT9WnUdiiKzi596GhsMWB+PMyYlNtJ7IsSxXgbccdm40"
    "jlzNMCFiohWttVqttZVEs38vFI12snbAdmcpVnO4wVON5TYv9tDztDuofFfxzLccrdVrEpLyyNNuqErxcwUY0fPqLbab3Ggj"
    "vsO+UXd5enaXQGsi9Lp26K5Pcf2g/JS95XbQGAm/7dTn91uNsd5W/garcdZAd8Aq+DQ7m0lE92Sr0h/hirOzGBcUW9EnkXEp"
    "yFhvK8A6+08gj7jLMb230DaI5qm2u435/2l/tdXTfjvrK4SnC8o2W22j4eq2XaZWHxpddVinDr56ppKEZfpth++2OkhryUxG"
    "F+GVTDTSfWSPnWKoHxxwOGT4brR/HZbg02b/QJyQ34FSrY8H8NZztga/gG8G0WzC/kmZIPOGQYcf7+npXwf4OMuzy3aDvbwv"
    "2XpeCZde6AYtI0+CjbN8XWHH9gVriJ5xzOLXJsvK0/afyiQ4Vbw9zW/EKvt2Ozc5YvoMgekz5MWTVkdMIHWRvWCv7QeWqaYv"
    "gPhz/C7LTXmT++vE2JvUQyGrNY4xqgPb6f8xzfzmbR3RemUJnZ6mqv7IzkzaLO/PQtfJ9wW0XIB2lmg5y2owb5WN3/LRKFrP"
    "Yvte5Dcx23zygxtJY/RPmg0SyaAJ9FZjG595Jp9ZFNiePxJUJlmeqyEfRfEVRZRohs7GU5XkuT22c/RClYKXdlBhPIk30/Gl"
    "w2r5amj1ZGI3qIyAZ4qda2ud/Bg1RgW/IkZtsf8vKu08vQGuDqvbdTdbCOoOWO7fA1U8bbvAXjUy03nGoPmTaJIBl2yrxdPR"
    "XiutKPRK4zuTGNxtpw3Kwc0zzeI5lZppO/Oasd17EpFYiYbJUC4jOR6Nq3nzsA/w2Rm1nkEfxN7jtm7s4SoESconHevP0Kv1"
    "+5NcLq5uq0yn8MWIrcnHoQ3AqQeUvmE1cxOa+O3sLIjd8+z00oG3O+Hks8ydh99mbXeoJ4uXQd17ZEnN/Lpejtt+bQj+Y6Bn"
    "1ngGeS9j5Ay9I0TUInz+B9PRORA="
)
_MISSING_DAYS = ("1984-12-31", "1988-12-31")  # absent from the file: the rows are consecutive days otherwise


def temperatures_csv() -> bytes:
    """The official ``daily-min-temperatures.csv``, byte for byte, rebuilt from the copy shipped here
    (a :class:`DataError` if it does not match the official size, md5 and sha256)."""
    import base64
    import datetime
    tenths = np.frombuffer(zlib.decompress(base64.b64decode("".join(_TEMPERATURES))), dtype="<u2")
    day, last, dates = datetime.date(1981, 1, 1), datetime.date(1990, 12, 31), []
    while day <= last:
        if day.isoformat() not in _MISSING_DAYS:
            dates.append(day.isoformat())
        day += datetime.timedelta(days=1)
    if len(dates) != len(tenths):
        raise DataError(f"temperatures: {len(tenths)} values shipped for {len(dates)} days")
    rows = [f'"{d}",{t / 10:.1f}' for d, t in zip(dates, tenths.tolist())]
    data = ('"Date","Temp"\r\n' + "\r\n".join(rows)).encode()
    name, size, md5, sha256 = TEMPERATURES_CSV
    problem = check_bytes(data, size, md5, sha256)
    if problem is not None:
        raise DataError(f"temperatures: the shipped copy of {name} is corrupt: {problem}")
    return data


def load_temperatures(*, download: bool = True) -> dict:
    """Daily minimum temperatures in Melbourne, 1981-1990 (degrees Celsius), shipped with the course
    (``download`` is accepted and never needed): ``{"train": (2920,) float64, "test": (730,) float64,
    "dates_train": (2920,) str, "dates_test": (730,) str}``, train the days before
    ``TEMPERATURES_SPLIT`` (1981-1988), test those from it on (1989-1990), read-only."""
    lines = temperatures_csv().decode("ascii").split("\r\n")[1:]
    dates = np.array([line.split(",")[0].strip('"') for line in lines])
    temps = np.array([float(line.split(",")[1]) for line in lines])
    k = int(np.searchsorted(dates, TEMPERATURES_SPLIT))
    out = {"train": temps[:k], "test": temps[k:], "dates_train": dates[:k], "dates_test": dates[k:]}
    for value in out.values():
        value.flags.writeable = False
    return out
# The distinct words of the IMDB train split under the `sentiment` contract's tokenizer (lower-case,
# `<br />` as a space, then the matches of this pattern), sorted by code point and joined with "\n"
# as UTF-8: the trained-model item of `sentiment` checks that a submitted vocabulary holds words of
# the training split only (a vocabulary built from the test reviews too is a leak).
_IMDB_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_IMDB_WORDS_SHA = ((696343,), "7a67d66af64d67d839fdbefa5cdb1ea55a2f9afc7fbb652c9ec43616d4d053dc")
_IMDB_WORDS: dict = {}  # the verified buffer -> the frozenset of its words


def _imdb_words_file():
    return ArrayFile(filename="imdb_train_words.npz", version=1, sources=(f"imdb:{IMDB.content_sha256}",),
                     arrays={"words": (_IMDB_WORDS_SHA[0], np.uint8, _IMDB_WORDS_SHA[1])})


def imdb_train_words(*, download: bool = True) -> frozenset:
    """The distinct words of the IMDB ``train`` split (81373), tokenized as the `sentiment`
    contract says. The first call tokenizes the split (a few seconds) and caches the sorted words
    as ``imdb_train_words.npz``; later calls read that file, verified once per process."""
    with MEMO_LOCK:
        arrays = verified_arrays(_imdb_words_file(), ("words",))
    if arrays is None:
        texts, _ = load_imdb("train", download=download)
        words = sorted(set(_IMDB_WORD.findall("\n".join(texts).lower().replace("<br />", " "))))
        buf = np.frombuffer("\n".join(words).encode("utf-8"), dtype=np.uint8)
        with MEMO_LOCK:
            write_arrays(_imdb_words_file(), {"words": buf}, "imdb")
            arrays = verified_arrays(_imdb_words_file(), ("words",))
        if arrays is None:  # pragma: no cover - a tokenizer that does not give the pinned words
            raise DataError(f"imdb: the train words computed do not match their sha256; delete "
                            f"{_imdb_words_file().path} and retry")
    (buf,) = arrays
    hit = _IMDB_WORDS.get(id(buf))
    if hit is None or hit[0] is not buf:
        hit = _IMDB_WORDS[id(buf)] = (buf, frozenset(buf.tobytes().decode("utf-8").split("\n")))
    return hit[1]
