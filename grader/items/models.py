"""Trained weights submitted by students: loaded without pickle, validated, evaluated.

The trusted parent evaluates a submission's weights with the reference layers; `dlgrade check`
evaluates them with the student's own layers in a worker. Both use `drivers.predict`.
"""
import json
from pathlib import Path

import numpy as np

from grader.items.base import TrustedItem
from grader.sandbox.drivers import WeightsError  # noqa: F401  (defined with the drivers, which raise it on both sides)

MAX_BYTES = 64 << 20
MAX_WIDTH = 1 << 16
LAYER_TYPES = {  # built in; `layer_types()` adds those the course's assignments whitelist
    "Linear", "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "ELU", "Softplus", "Softmax", "LogSoftmax",
    "Dropout", "BatchNorm1d", "Flatten", "Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm2d",
    "Embedding", "RNN", "LSTM", "GRU", "TemporalLinear",
}
MAX_VOCAB = 100_000  # entries of a vocabulary: characters (rnn) or words (sentiment)
MAX_TOKEN = 100     # characters of one vocabulary entry
MAX_UNPACKED = 256 << 20  # decompressed bytes of a weights .npz
MAX_LAYERS = 64
MAX_WINDOW = 16  # kernel_size, stride, padding and pooling windows: beyond this, no CIFAR model needs it
WINDOW_KEYS = {"kernel_size", "stride", "padding", "pool_size", "size"}


def load_weights(path: Path):
    """Read `(arch, weights, meta)` from a weights `.npz`: arch as a list of layer dicts, weights
    as {"i.name": float32 array}, meta with the entries the file has: "vocab" ([str], a vocabulary of
    characters or words), "max_len" (int, the ids' length of a text model that pads) and "settings"
    ({name: number}: a normalisation, a window length).
    Raises WeightsError with a one-line reason."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path.name} not found")
    if path.stat().st_size > MAX_BYTES:
        raise WeightsError(f"{path.name} is larger than {MAX_BYTES >> 20} MB")
    arrays = _read_npz(path)
    arch = arrays.pop("arch", None)
    if arch is None or arch.dtype.kind != "U" or arch.shape != ():
        raise WeightsError(f"{path.name}: 'arch' must be a JSON string (a 0-d unicode array)")
    try:
        arch = json.loads(str(arch))
    except json.JSONDecodeError as exc:
        raise WeightsError(f"{path.name}: 'arch' is not valid JSON ({exc})") from None
    _check_arch(arch)
    meta = {}
    vocab = arrays.pop("vocab", None)
    if vocab is not None:
        try:
            meta["vocab"] = json.loads(str(vocab)) if vocab.dtype.kind == "U" and vocab.shape == () else None
        except json.JSONDecodeError:
            meta["vocab"] = None
        v = meta["vocab"]
        if not (isinstance(v, list) and 0 < len(v) <= MAX_VOCAB and len(set(v)) == len(v)
                and all(isinstance(c, str) and 0 < len(c) <= MAX_TOKEN for c in v)):
            raise WeightsError(f"{path.name}: 'vocab' must be a JSON list of at most {MAX_VOCAB} distinct "
                               f"non-empty strings of at most {MAX_TOKEN} characters")
    max_len = arrays.pop("max_len", None)
    if max_len is not None:
        if max_len.shape != () or max_len.dtype.kind not in "iu" or not 1 <= int(max_len) <= MAX_WIDTH:
            raise WeightsError(f"{path.name}: 'max_len' must be a 0-d integer array in 1..{MAX_WIDTH}")
        meta["max_len"] = int(max_len)
    settings = arrays.pop("settings", None)
    if settings is not None:
        meta["settings"] = _settings(settings, path.name)
    weights = {}
    for key, value in arrays.items():
        i, _, name = key.partition(".")
        if not (i.isdigit() and int(i) < len(arch) and name.isidentifier()):
            raise WeightsError(f"{path.name}: unexpected array {key!r} (keys are 'i.name')")
        if value.dtype.kind != "f" or not np.isfinite(value).all():
            raise WeightsError(f"{path.name}: {key} must hold finite floats")
        weights[key] = value.astype(np.float32)
    return arch, weights, meta


MAX_SETTINGS = 64


def _settings(value, name) -> dict:
    """A weights file's `settings` entry: a JSON string (0-d unicode array) of an object mapping
    names to finite numbers, what the model was trained with that its item reads (each item says
    which names it needs)."""
    try:
        out = json.loads(str(value)) if value.dtype.kind == "U" and value.shape == () else None
    except json.JSONDecodeError:
        out = None
    if not (isinstance(out, dict) and len(out) <= MAX_SETTINGS and all(
            isinstance(k, str) and k.isidentifier() and not isinstance(v, bool) and isinstance(v, (int, float))
            and np.isfinite(v) for k, v in out.items())):
        raise WeightsError(f"{name}: 'settings' must be a JSON object of at most {MAX_SETTINGS} names "
                           "mapped to finite numbers (a 0-d string array)")
    return out


NPY_MAGIC = b"\x93NUMPY"


def _read_npz(path: Path) -> dict:
    """{name: array} from an `.npz` archive, read member by member with `allow_pickle=False`;
    what is wrong with a file that is not one is said in one line (WeightsError)."""
    import zipfile
    import zlib
    with open(path, "rb") as f:
        head = f.read(len(NPY_MAGIC))
    if head == NPY_MAGIC:
        raise WeightsError(f"{path.name} is a single .npy array, not a .npz archive (save it with numpy.savez)")
    if not zipfile.is_zipfile(path):
        raise WeightsError(f"{path.name} is not a NumPy .npz archive (save it with numpy.savez)")
    arrays = {}
    try:
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
            if sum(m.file_size for m in members) > MAX_UNPACKED:
                raise WeightsError(f"{path.name} unpacks to more than {MAX_UNPACKED >> 20} MB")
            for m in members:
                if m.is_dir():
                    continue
                if not m.filename.endswith(".npy"):
                    raise WeightsError(f"{path.name}: member {m.filename!r} is not a NumPy array file (.npy)")
                if m.flag_bits & 0x1:
                    raise WeightsError(f"{path.name}: member {m.filename!r} is encrypted")
                arrays[m.filename[:-len(".npy")]] = _read_npy(lambda m=m: zf.open(m),
                                                              f"{path.name}: member {m.filename!r}")
    except WeightsError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
        raise WeightsError(f"{path.name} is a damaged .npz archive ({exc})") from None
    return arrays


def _read_npy(open_member, where: str):
    """One `.npy` member (`open_member()` opens it): a plain array, never an object (pickled) one."""
    fmt = np.lib.format
    try:
        with open_member() as f:
            version = fmt.read_magic(f)
            if version not in ((1, 0), (2, 0)):
                raise ValueError(f"format version {version[0]}.{version[1]}")
            read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            dtype = read_header(f)[2]
        if dtype.hasobject:
            raise WeightsError(f"{where} holds Python objects (pickled data), which are never loaded: save plain "
                               "number arrays, and 'arch' as a JSON string")
        with open_member() as f:
            return fmt.read_array(f, allow_pickle=False)
    except WeightsError:
        raise
    except (ValueError, EOFError, SyntaxError, TypeError, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise WeightsError(f"{where} is not a valid .npy array ({reason})") from None


def layer_types() -> set:
    """Every layer type a weights file may name: `LAYER_TYPES` and every type an item of the
    course's assignments accepts (`AccuracyItem.layers`), so a new assignment's layers need no
    edit here. Each item still refuses the types it does not teach (`AccuracyItem.check_arch`)."""
    from grader import course
    types = set(LAYER_TYPES)
    try:
        for name in course.discover():
            for item in course.load(name).ITEMS:
                if isinstance(item, TrustedItem):
                    types.update(t for t in item.layers if isinstance(t, str) and t.isidentifier())
    except Exception:  # a broken registry is reported where it is used, not while reading weights
        pass
    return types


def _check_arch(arch):
    if not isinstance(arch, list) or not arch:
        raise WeightsError("'arch' must be a non-empty list of layers")
    if len(arch) > MAX_LAYERS:
        raise WeightsError(f"'arch' has {len(arch)} layers, more than {MAX_LAYERS}")
    types = layer_types()
    for i, layer in enumerate(arch):
        if not isinstance(layer, dict) or layer.get("type") not in types:
            raise WeightsError(f"layer {i}: type must be one of {sorted(types)}")
        for key, value in layer.items():
            if key == "type":
                continue
            if not key.isidentifier() or isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not abs(value) <= MAX_WIDTH:
                raise WeightsError(f"layer {i} ({layer['type']}): bad hyperparameter {key}={value!r}")
            if key in WINDOW_KEYS and not 0 <= value <= MAX_WINDOW:
                raise WeightsError(f"layer {i} ({layer['type']}): {key}={value!r} is outside 0..{MAX_WINDOW}")


def accuracy(pred, labels) -> float:
    pred = np.asarray(pred)
    if pred.shape != labels.shape:
        raise WeightsError(f"the model gave predictions of shape {pred.shape}, expected {labels.shape}")
    return float((pred == labels).mean())
