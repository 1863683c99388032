"""Shared fixtures: the repository root, real data (skipped only where absent), a CLI runner."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def data_dir():
    d = os.environ.get("DLGRADE_DATA")
    return Path(d) if d and Path(d).is_dir() else None


DATA_FILES = ("cifar-10-python.tar.gz", "names.txt", "tinyshakespeare.txt")


@pytest.fixture
def needs_data():
    d = data_dir()
    if d is None or not all((d / f).is_file() for f in DATA_FILES):
        pytest.skip(f"real data not available (set DLGRADE_DATA to a folder holding {', '.join(DATA_FILES)})")


def dlgrade(*args, cwd=ROOT, env=None, timeout=600):
    """Run the real `dlgrade` command line in a subprocess; returns CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "grader.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture
def xp(request):
    """The array module named by the test's parameter (tests/devices.py: ARRAY_MODULES)."""
    from tests import devices
    name = getattr(request, "param", "numpy")
    if name == "numpy":
        import numpy
        yield numpy
    elif name == "fakecupy":
        with devices.fake_cupy() as module:
            yield module
    else:
        import cupy
        yield cupy
