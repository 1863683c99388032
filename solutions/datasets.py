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

import numpy as np

from grader.student.arraycache import MEMO_LOCK, ArrayFile, load_numpy_pickle, verified_arrays, write_arrays
from grader.student.data import (DATASETS as REGISTERED, DataError, Dataset, extract_members, one_line,
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
