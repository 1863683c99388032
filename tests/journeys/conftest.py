"""Journey tests: what users receive, built and installed the way they get it.

Nothing here imports the project (`grader`, `reference`, `tests.*`): the repository is read as
files, and every command runs in a subprocess from built artifacts.

Session fixtures, shared by every journey test (built once, outside the repository):
- `artifacts`: the sdist and the wheel, built from a copy of the working tree (tracked and
  untracked, not ignored files) by `python -m build` (sdist, then the wheel from the sdist) or,
  where `build` is not installed, by setuptools' PEP 517 sdist hook and `pip wheel` on the
  unpacked sdist (the same two steps);
- `wheel_venv`: a fresh venv with the wheel `pip install`ed (not editable);
- `env` / `run`: subprocesses run from a scratch folder outside the repository, with the venv
  first on PATH, `DLGRADE_DATA` taken from the environment (as `.ci/run` sets it), a private
  `DLGRADE_CACHE`, and no `DLGRADE_COURSE`, `PYTHONPATH` or `VIRTUAL_ENV` of the caller.
"""
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# The course's assignments, read as files: a folder of solutions/ with a grading.py.
ASSIGNMENTS = sorted(p.parent.name for p in (REPO / "solutions").glob("*/grading.py"))
IGNORED = {".git", ".venv", "venv", "build", "dist", ".cache", ".pytest_cache", "__pycache__"}


def data_dir():
    """DLGRADE_DATA from the environment (.ci/run sets it), or None."""
    d = os.environ.get("DLGRADE_DATA")
    return d if d and Path(d).is_dir() else None


def needs_data():
    if data_dir() is None:
        pytest.skip("DLGRADE_DATA is not set to a folder holding the datasets (.ci/run sets it): "
                    "trained-model items and training commands need the real data")


def _source_files():
    """The working tree's files as a fresh clone plus local edits would have them."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=REPO, capture_output=True, check=True).stdout
        return sorted({Path(p.decode()) for p in out.split(b"\0") if p})
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: everything but the ignored
        return sorted(p.relative_to(REPO) for p in REPO.rglob("*")
                      if not p.is_dir() and not IGNORED & set(p.relative_to(REPO).parts))


def copy_tree(dest):
    """A copy of the repository's source files in `dest` (links kept as links)."""
    for rel in _source_files():
        src = REPO / rel
        if not (src.is_file() or src.is_symlink()):  # deleted in the working tree
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(src), dest / rel)
        else:
            shutil.copy2(src, dest / rel)
    return dest


def _check(proc, what):
    assert proc.returncode == 0, f"{what} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def _has_build(cwd):
    return subprocess.run([sys.executable, "-m", "build", "--version"], cwd=cwd,
                          capture_output=True).returncode == 0


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory):
    """{"sdist": path, "wheel": path}: built once per session outside the repository."""
    root = tmp_path_factory.mktemp("artifacts")
    src = copy_tree(root / "src")
    dist = root / "dist"
    if _has_build(root):
        _check(subprocess.run([sys.executable, "-m", "build", "--outdir", str(dist), str(src)], cwd=root,
                              capture_output=True, text=True), "python -m build")
    else:
        dist.mkdir()
        hook = "import sys; from setuptools import build_meta as b; print(b.build_sdist(sys.argv[1]))"
        _check(subprocess.run([sys.executable, "-c", hook, str(dist)], cwd=src, capture_output=True, text=True),
               "setuptools build_sdist")
        [sdist] = dist.glob("*.tar.gz")
        with tarfile.open(sdist) as tf:
            tf.extractall(root / "unpacked", filter="data")
        [unpacked] = (root / "unpacked").iterdir()
        _check(subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist),
                               str(unpacked)], cwd=root, capture_output=True, text=True), "pip wheel")
    [sdist] = dist.glob("*.tar.gz")
    [wheel] = dist.glob("*.whl")
    return {"sdist": sdist, "wheel": wheel}


def make_venv(path):
    _check(subprocess.run([sys.executable, "-m", "venv", str(path)], capture_output=True, text=True), "venv")
    return path


@pytest.fixture(scope="session")
def scratch(tmp_path_factory):
    """A folder outside the repository to run commands from."""
    d = tmp_path_factory.mktemp("cwd")
    assert not d.resolve().is_relative_to(REPO)
    return d


@pytest.fixture(scope="session")
def base_env(tmp_path_factory):
    """The caller's environment without anything that points at the repository."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "DLGRADE_COURSE", "PYTHONHOME", "PYTHONSTARTUP")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if p and not Path(p).resolve().is_relative_to(REPO))
    env["DLGRADE_CACHE"] = str(tmp_path_factory.mktemp("dlgrade-cache"))
    env.pop("DLGRADE_DATA", None)
    if data_dir():
        env["DLGRADE_DATA"] = data_dir()
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def venv_env(base, venv):
    env = dict(base, VIRTUAL_ENV=str(venv))
    env["PATH"] = os.pathsep.join([str(venv / "bin"), base["PATH"]])
    return env


@pytest.fixture(scope="session")
def wheel_venv(artifacts, tmp_path_factory, base_env):
    """A fresh venv outside the repository with the wheel installed (not editable)."""
    venv = make_venv(tmp_path_factory.mktemp("wheel-venv") / "venv")
    _check(subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(artifacts["wheel"])],
                          capture_output=True, text=True, env=venv_env(base_env, venv)), "pip install the wheel")
    assert (venv / "bin" / "dlgrade").is_file()
    return venv


@pytest.fixture(scope="session")
def env(base_env, wheel_venv):
    """The environment of the instructor's commands: the wheel's venv first on PATH."""
    return venv_env(base_env, wheel_venv)


@pytest.fixture(scope="session")
def dlgrade(wheel_venv):
    """The installed `dlgrade` executable."""
    return str(wheel_venv / "bin" / "dlgrade")


class Runner:
    """`run(*args, cwd=..., env=..., ok=True)`: a command in a subprocess (text, captured); with
    `ok`, a non-zero exit fails the test with its output. No command may print a traceback."""

    def __init__(self, env, cwd):
        self.env, self.cwd = env, cwd

    def __call__(self, *args, cwd=None, env=None, ok=True, timeout=900, input=None):
        args = [str(a) for a in args]
        proc = subprocess.run(args, cwd=cwd or self.cwd, env=env or self.env, capture_output=True, text=True,
                              timeout=timeout, input=input)
        what = " ".join(args)
        assert "Traceback (most recent call last)" not in proc.stderr + proc.stdout, \
            f"{what} printed a traceback:\n{proc.stderr[-4000:]}"
        if ok:
            _check(proc, what)
        return proc


@pytest.fixture(scope="session")
def run(env, scratch):
    return Runner(env, scratch)


def start(args, *, cwd, env):
    """A command started in its own process group (stdout and stderr merged, line-buffered)."""
    return subprocess.Popen([str(a) for a in args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, bufsize=1, start_new_session=True)


def kill_group(proc):
    """SIGKILL the process group of `proc` and reap it; True when it was still running."""
    alive = proc.poll() is None
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)
    return alive


def wait_for(predicate, timeout, what, poll=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# --------------------------------------------------------------------------- submissions, as files
def copy_key(assignment, dest, names=None):
    """The answer key's code as a student hands it in: its `.py` files (or those of `names`), links
    resolved, without grading.py/mutants.py and without trained weights (the one journey that grades
    trained weights is test_wheel's full-marks test)."""
    dest.mkdir(parents=True, exist_ok=True)
    for src in sorted((REPO / "solutions" / assignment).glob("*.py")):
        if src.name in ("grading.py", "mutants.py") or (names is not None and src.name not in names):
            continue
        (dest / src.name).write_bytes(src.resolve().read_bytes())
    return dest


def _header(text, key):
    found = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith(f"# {key}:")]
    return found[0] if found else ""


def planted_bug(assignment):
    """(name, file, affected item ids, snippet) of one planted bug of tests/submissions/A/bugs/: the
    first by name that changes one named file, lists its items and is no timeout or speed case."""
    for path in sorted((REPO / "tests" / "submissions" / assignment / "bugs").glob("*.py")):
        text = path.read_text()
        file, affects = _header(text, "file"), _header(text, "affects")
        if (file and file != "*" and affects and affects != "*" and _header(text, "status") != "timeout"
                and "# speed" not in text):
            include = _header(text, "include")
            if include:
                text = (REPO / "tests" / "submissions" / include).read_text() + "\n\n" + text
            return path.stem, file, [a.strip() for a in affects.split(",") if a.strip()], text
    raise AssertionError(f"tests/submissions/{assignment}/bugs/ has no planted bug to use")


def build_bug(assignment, dest):
    """The answer key's code with the planted bug appended to its file (as tests/submissions/harness.py
    builds it); returns (folder, affected item ids)."""
    name, file, affects, text = planted_bug(assignment)
    copy_key(assignment, dest)
    with open(dest / file, "a") as f:
        f.write(f"\n\n# ---- planted: {name}\n{text}")
    return dest, affects


def is_timed(item_id):
    """Items whose score comes from a timing (the conv speed items): a busy machine can cost the
    answer key part of their credit, so journeys accept passed or partial there."""
    return ".speed." in item_id


def is_untrained(assignment, item):
    """A trained-model item of a submission handed in without weights: not attempted, and its
    message names a weights file that the answer key has (``mlp_weights.npz not found ...``)."""
    name = item["output"].split(" not found", 1)[0].strip()
    return (item["status"] == "not_attempted" and name.endswith(".npz")
            and (REPO / "solutions" / assignment / name).is_file())
