"""`grader.data`: the import path the course's training scripts use (`from grader.data import ...`),
kept stable for released kits. The machinery (fetch, verify, path, the cache, `Dataset`,
`DataError`) lives in `grader.student.data`; the datasets and their loaders (`load_cifar10`,
`cifar10_preprocess`, `cifar10_test_set`, `CIFAR10_CLASSES`, `load_names`, `load_shakespeare`,
`load_imdb`) are the course's, declared in `solutions/datasets.py` (docs/data.md), and read from
here as if defined here."""
from grader.student import data as _data
from grader.student.data import (CACHE_ENV, DATA_ENV, DATASETS, DataError, Dataset, cache_dir,  # noqa: F401
                                 extract_members, fetch, path, read_text, verify)


def __getattr__(name: str):
    """The course's loaders and constants (`grader.student.data.__getattr__`)."""
    return _data.__getattr__(name)
