"""A course declares its own datasets (solutions/datasets.py) without editing grader/: `dlgrade
data` fetches and verifies them, its loaders are importable from grader.data, and a loader asked
not to download (`download=False`, what `dlgrade check` passes) refuses with one line."""
import hashlib
import os
import subprocess
import sys

import pytest

import grader.data
from grader.student import data
from tests.conftest import ROOT

CONTENT = b"".join(b"word%d\n" % i for i in range(100))
COURSE = '''
from grader.data import Dataset, read_text

DATASETS = (Dataset(name="tiny", urls=({url!r},), filename="tiny.txt", size={size}, md5={md5!r},
                    sha256={sha!r}, description="a hundred words"),)


def load_tiny(*, download=True):
    return read_text("tiny", download=download).split()
'''


@pytest.fixture
def course(tmp_path, monkeypatch):
    source = tmp_path / "mirror" / "tiny.txt"
    source.parent.mkdir()
    source.write_bytes(CONTENT)
    folder = tmp_path / "course" / "solutions"
    folder.mkdir(parents=True)
    (folder / "datasets.py").write_text(COURSE.format(url=source.as_uri(), size=len(CONTENT),
                                                      md5=hashlib.md5(CONTENT).hexdigest(),
                                                      sha=hashlib.sha256(CONTENT).hexdigest()))
    monkeypatch.setenv("DLGRADE_COURSE", str(tmp_path / "course"))
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    return tmp_path


def test_a_course_dataset_is_fetched_verified_and_loaded(course):
    assert sorted(data.DATASETS) == ["tiny"]  # this course's, not the repository's
    assert data.fetch("tiny", progress=False) == course / "cache" / "tiny.txt" == data.path("tiny")
    assert data.verify("tiny") == [("tiny.txt", True)]
    assert grader.data.load_tiny()[:2] == ["word0", "word1"]
    (course / "cache" / "tiny.txt").write_bytes(CONTENT.replace(b"word7", b"word8"))
    assert data.verify("tiny") == [("tiny.txt", False)]


def test_no_download_is_one_clear_line(course):
    with pytest.raises(data.DataError) as info:
        grader.data.load_tiny(download=False)
    assert str(info.value).startswith("tiny is not on this machine: run `dlgrade data fetch tiny`")
    assert not (course / "cache" / "tiny.txt").exists()
    assert grader.data.load_tiny()[-1] == "word99"  # downloads by default


def test_an_unknown_loader_is_an_attribute_error(course):
    with pytest.raises(AttributeError, match="load_imagenet"):
        grader.data.load_imagenet


def test_dlgrade_data_fetch_knows_the_courses_dataset(course):
    env_course = str(course / "course")
    proc = subprocess.run([sys.executable, "-m", "grader.cli", "data", "fetch", "tiny"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "DLGRADE_COURSE": env_course})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(course / "cache" / "tiny.txt")


def test_the_repositorys_course_declares_its_four_datasets(monkeypatch):
    monkeypatch.delenv("DLGRADE_COURSE", raising=False)
    assert data.course_file() == ROOT / "solutions" / "datasets.py"
    assert sorted(data.DATASETS) == ["cifar10", "imdb", "names", "shakespeare"]
    machinery = "".join((ROOT / "grader" / "student" / name).read_text()
                        for name in ("data.py", "fetching.py", "arraycache.py"))
    for source in ("kriz", "makemore", "stanford"):  # no dataset is declared in grader/
        assert source not in machinery
