"""Journey: the Gradescope autograder zip, run the way Gradescope runs it.

For every assignment A, `dlgrade release A --gradescope` builds the zip; it is unzipped into a
temporary root's `source/`, its `run_autograder` is copied to the root (as Gradescope's image
build does), and its own `setup.sh` runs once, as written, with only the root
(`AUTOGRADER_ROOT`) and the package manager (`APT_GET=true`: Python 3 and bubblewrap are
installed here) substituted, the datasets copied from `DLGRADE_DATA` and one pip cache shared by
all assignments. Then `run_autograder` grades, from a fresh `submission/` and `results/`:

(a) the answer key, packed by `dlgrade submit` (`submission.zip`): full marks;
(b) the answer key with the first planted bug of `tests/submissions/A/bugs/` that names one file
    and its items, as a folder of files: exactly the bug's items lose points;
(c) the released stub (`assignments/A`): 0, every item `not_attempted`.

Every results.json is checked field by field against Gradescope's specification
(https://gradescope-autograders.readthedocs.io/en/latest/specs/).

The uid sandbox (the fallback where bubblewrap cannot create namespaces, as in a Docker
container without CAP_SYS_ADMIN) is shown on `linear`: with a `bwrap` that fails first on PATH,
`run_autograder` grades with it, and an attack appended to the answer key, which tries to read
salt.txt, the registries and the grader, to write outside its folder and to leave a daemon,
gets nowhere, while full marks are kept; the same attack under `dlgrade grade --no-sandbox`
does read and write those files (the control). On `cnn` the answer key keeps full marks under
it, speed items included (their trusted timing worker holds a copy of the references).

Nothing here imports the project: every step runs a command.
"""
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENTS = sorted(p.parent.name for p in (ROOT / "solutions").glob("*/grading.py"))
STANDARD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # a stock Ubuntu root's
PASS_THROUGH = re.compile(r"PIP_.*|(?i:https?_proxy|no_proxy)|SSL_CERT_.*|REQUESTS_CA_BUNDLE")
SPEED_RETRIES = 2  # a speed item that misses full credit on a loaded machine is graded again
WORKER_UIDS = range(200_000, 210_000)  # grader.sandbox.runner.UID_BASE, + UID_SLOTS

pytestmark = pytest.mark.slow

# --------------------------------------------------------------------------- Gradescope's format
TOP = {"score": "number", "execution_time": "number", "output": str, "output_format": "format",
       "test_output_format": "format", "test_name_format": "format", "visibility": "visibility",
       "stdout_visibility": "visibility", "extra_data": dict, "tests": list, "leaderboard": list}
TEST = {"score": "number", "max_score": "number", "status": "status", "name": str, "name_format": "format",
        "number": str, "output": str, "output_format": "format", "tags": list, "visibility": "visibility",
        "extra_data": dict}
REQUIRED_TOP = ("score", "execution_time", "output", "visibility", "stdout_visibility", "tests")
REQUIRED_TEST = ("name", "number", "score", "max_score", "status", "output", "tags", "visibility")
ENUMS = {"visibility": {"hidden", "after_due_date", "after_published", "visible"},
         "status": {"passed", "failed"}, "format": {"text", "html", "simple_format", "md", "ansi"}}


def _kind_problem(value, kind):
    if kind == "number":
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) else "not a number"
    if kind in ENUMS:
        return None if value in ENUMS[kind] else f"{value!r} is not one of {sorted(ENUMS[kind])}"
    return None if isinstance(value, kind) else f"not a {kind.__name__}"


def schema_problems(results) -> list:
    """Where `results` departs from Gradescope's results.json specification (empty: nowhere)."""
    out = [f"unknown top-level key {k!r}" for k in results if k not in TOP]
    out += [f"missing {k!r}" for k in REQUIRED_TOP if k not in results]
    out += [f"{k}: {p}" for k, kind in TOP.items() if k in results
            for p in [_kind_problem(results[k], kind)] if p]
    for t in results.get("tests", []):
        name = t.get("name", "?")
        out += [f"{name}: unknown key {k!r}" for k in t if k not in TEST]
        out += [f"{name}: missing {k!r}" for k in REQUIRED_TEST if k not in t]
        out += [f"{name}.{k}: {p}" for k, kind in TEST.items() if k in t for p in [_kind_problem(t[k], kind)] if p]
        if not all(isinstance(tag, str) for tag in t.get("tags", [])):
            out.append(f"{name}: a tag is not a string")
        if not 0 <= t.get("score", 0) <= t.get("max_score", 0):
            out.append(f"{name}: score {t.get('score')} outside [0, {t.get('max_score')}]")
    numbers = [t.get("number") for t in results.get("tests", [])]
    if len(set(numbers)) != len(numbers):
        out.append("test numbers repeat")
    if results.get("tests") and abs(results.get("score", 0) - sum(t.get("score", 0) for t in results["tests"])) > 1e-6:
        out.append("the score is not the sum of the tests' scores")
    return out


def test_schema_check_finds_departures():
    good = {"score": 1.0, "execution_time": 2, "output": "", "visibility": "visible", "stdout_visibility": "hidden",
            "tests": [{"name": "a", "number": "1", "score": 1.0, "max_score": 2, "status": "failed", "output": "",
                       "tags": ["public"], "visibility": "after_published"}]}
    assert schema_problems(good) == []
    bad = json.loads(json.dumps(good))
    bad["visibility"], bad["tests"][0]["status"], bad["tests"][0]["tags"] = "later", "partial", [1]
    del bad["tests"][0]["number"]
    bad["colour"] = "red"
    assert len(schema_problems(bad)) == 5, schema_problems(bad)


# --------------------------------------------------------------------------- running the scripts
def base_env(**extra):
    """The environment of a root shell on a stock machine, with this machine's pip configuration."""
    path = STANDARD_PATH
    if shutil.which("python3", path=path) is None:
        path = os.path.dirname(shutil.which("python3")) + ":" + path
    env = {"PATH": path, "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"}
    env.update({k: v for k, v in os.environ.items() if PASS_THROUGH.fullmatch(k)})
    env.update({k: str(v) for k, v in extra.items()})
    return env


def dlgrade_here(*args, timeout=600):
    """This checkout's `dlgrade` (to release and submit), run as a command."""
    r = subprocess.run([sys.executable, "-m", "grader.cli", *map(str, args)], cwd=ROOT, capture_output=True,
                       text=True, timeout=timeout)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def unzip(archive, dest):
    """Extract like unzip does: with the members' permission bits."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            path = Path(zf.extract(info, dest))
            mode = info.external_attr >> 16 & 0o777
            if mode:
                path.chmod(mode)


class Autograder:
    """One assignment's autograder tree: ROOT/source (the zip), ROOT/run_autograder, ROOT/venv."""

    def __init__(self, assignment, root, pip_cache):
        self.assignment, self.root = assignment, root
        self.zip = root.parent / f"{assignment}-autograder.zip"
        dlgrade_here("release", assignment, "--gradescope", self.zip)
        unzip(self.zip, root / "source")
        shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
        start = time.monotonic()
        r = subprocess.run([str(root / "source" / "setup.sh")], cwd=root, capture_output=True, text=True, timeout=1200,
                           env=base_env(AUTOGRADER_ROOT=root, APT_GET="true", DLGRADE_DATA=os.environ["DLGRADE_DATA"],
                                        PIP_CACHE_DIR=pip_cache))
        self.setup_seconds = time.monotonic() - start
        assert r.returncode == 0, f"setup.sh failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
        self.site = next((root / "venv" / "lib").glob("python3*/site-packages"))
        self.salt = (root / "source" / "salt.txt").read_text().strip()

    def run(self, files=(), zip_file=None, path_prefix=""):
        """run_autograder on a fresh submission/ holding `files` ({name: bytes}) or `zip_file` as
        submission.zip; returns (results, stdout, seconds)."""
        for name in ("submission", "results"):
            shutil.rmtree(self.root / name, ignore_errors=True)
        sub = self.root / "submission"
        sub.mkdir()
        for name, data in dict(files).items():
            (sub / name).write_bytes(data)
        if zip_file is not None:
            shutil.copyfile(zip_file, sub / "submission.zip")
        env = base_env(AUTOGRADER_ROOT=self.root)
        env["PATH"] = path_prefix + env["PATH"]
        start = time.monotonic()
        r = subprocess.run([str(self.root / "run_autograder")], cwd=self.root, capture_output=True, text=True,
                           timeout=1200, env=env)
        seconds = time.monotonic() - start
        assert r.returncode == 0, r.stdout + r.stderr
        results = json.loads((self.root / "results" / "results.json").read_text())
        assert schema_problems(results) == [], (schema_problems(results), r.stdout[-2000:])
        return results, r.stdout, seconds


@pytest.fixture(scope="module")
def workspace():
    if not os.environ.get("DLGRADE_DATA") or not Path(os.environ["DLGRADE_DATA"]).is_dir():
        pytest.skip("DLGRADE_DATA does not name a folder of the datasets (setup.sh would download them)")
    folder = Path(tempfile.mkdtemp(prefix="dlgrade-gradescope-"))
    folder.chmod(0o755)  # the uid sandbox's workers reach the venv's NumPy below it, as under /autograder
    (folder / "pip-cache").mkdir()
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def autograder(request, workspace):
    root = workspace / request.param / "autograder"
    root.mkdir(parents=True)
    yield Autograder(request.param, root, workspace / "pip-cache")
    shutil.rmtree(root.parent, ignore_errors=True)


# --------------------------------------------------------------------------- submissions
def answer_key_zip(assignment, folder):
    out = Path(folder) / f"{assignment}-submission.zip"
    if not out.is_file():
        dlgrade_here("submit", assignment, ROOT / "solutions" / assignment, "--no-check", "-o", out)
    return out


def header(text, key):
    m = re.search(rf"^# {re.escape(key)}:(.*)$", text, re.MULTILINE)
    return m.group(1).strip() if m else ""


def planted_bug(assignment):
    """(name, file, affected item ids, text) of the first bug of `assignment` that names one file
    and its items (see tests/submissions/harness.py for the format)."""
    for path in sorted((ROOT / "tests" / "submissions" / assignment / "bugs").glob("*.py")):
        text = path.read_text()
        file, affects = header(text, "file"), [a.strip() for a in header(text, "affects").split(",") if a.strip()]
        if file and file != "*" and affects and affects != ["*"] and not re.search(r"^# (include|speed)", text, re.M):
            return path.stem, file, set(affects), text
    pytest.fail(f"tests/submissions/{assignment}/bugs/ has no bug naming one file and its items")


def lost(results):
    return {t["name"] for t in results["tests"] if t["score"] < t["max_score"]}


def describe(results, names=None):
    return "\n".join(f"{t['name']}: {t['score']}/{t['max_score']} {t['tags']}\n  {t['output'][:400]}"
                     for t in results["tests"] if names is None or t["name"] in names)


def run_until_speed_settles(autograder, expected_lost, **submission):
    """run_autograder; again (at most SPEED_RETRIES times) while the only difference from
    `expected_lost` is speed items, whose timing a loaded machine can spoil."""
    for attempt in range(SPEED_RETRIES + 1):
        results, stdout, seconds = autograder.run(**submission)
        diff = lost(results) ^ set(expected_lost)
        if not diff or not all(".speed" in name for name in diff) or attempt == SPEED_RETRIES:
            return results, stdout, seconds
        warnings.warn(f"{autograder.assignment}: speed items graded again after a timing miss:\n"
                      + describe(results, diff))


# --------------------------------------------------------------------------- the journeys
def test_answer_key_scores_full_marks(autograder, tmp_path):
    results, stdout, seconds = run_until_speed_settles(
        autograder, set(), zip_file=answer_key_zip(autograder.assignment, tmp_path))
    total = sum(t["max_score"] for t in results["tests"])
    assert results["tests"], f"no test graded: {results.get('output', '')[-2000:]}\n{stdout[-2000:]}"
    assert lost(results) == set(), describe(results, lost(results))
    assert results["score"] == pytest.approx(total) and {t["status"] for t in results["tests"]} == {"passed"}
    assert results["extra_data"]["sandbox"] in ("bubblewrap", "uid") and "sandbox: " in stdout
    print(f"{autograder.assignment}: setup.sh {autograder.setup_seconds:.1f} s, answer key {seconds:.1f} s")


def test_planted_bug_loses_exactly_its_items(autograder, tmp_path):
    name, file, affects, text = planted_bug(autograder.assignment)
    with zipfile.ZipFile(answer_key_zip(autograder.assignment, tmp_path)) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    assert file in files, f"{name}: {file} is not a file of the answer key's submission"
    files[file] += f"\n\n# ---- planted: {name}\n{text}".encode()
    results, _, seconds = run_until_speed_settles(autograder, affects, files=files)
    assert affects <= {t["name"] for t in results["tests"]}, f"{name}: unknown items {affects}"
    assert lost(results) == affects, f"{name}:\n" + describe(results, lost(results) ^ affects)
    print(f"{autograder.assignment}/{name}: {seconds:.1f} s")


def test_stub_scores_zero_every_item_not_attempted(autograder):
    stub = ROOT / "assignments" / autograder.assignment
    results, _, seconds = autograder.run(files={p.name: p.read_bytes() for p in stub.iterdir() if p.is_file()})
    assert results["tests"] and results["score"] == 0
    assert all(t["score"] == 0 and t["status"] == "failed" and "not_attempted" in t["tags"]
               for t in results["tests"]), describe(results)
    print(f"{autograder.assignment} stub: {seconds:.1f} s")


# --------------------------------------------------------------------------- the uid sandbox
ATTACK = '''

import os as _os


def _dlgrade_attack(marks, reads, writes):
    def mark(name, text=""):
        try:
            with open(_os.path.join(marks, name), "w") as f:
                f.write(str(text))
        except OSError:
            pass
    mark("ran", _os.getuid())
    for name, path in reads.items():
        if "%d" in path:
            path = path % _os.getppid()
        try:
            if _os.path.isdir(path):
                _os.listdir(path)
            else:
                with open(path, "rb") as f:
                    f.read(1)
            mark("read-" + name, path)
        except OSError:
            pass
    for name, path in writes.items():
        try:
            with open(path, "a") as f:
                f.write("attack")
            mark("wrote-" + name, path)
        except OSError:
            pass
    try:
        with open("/proc/%d/cmdline" % _os.getppid(), "rb") as f:
            mark("parent-cmdline", f.read().replace(b"\\0", b" ").decode(errors="replace"))
    except OSError:
        pass
    if _os.getuid() != 0 and not _os.path.exists(_os.path.join(marks, "daemon")):
        pid = _os.fork()
        if pid == 0:  # a daemon outside the item's process group, to outlive the grading
            try:
                _os.setsid()
                import time
                time.sleep(600)
            finally:
                _os._exit(0)
        mark("daemon", pid)


_dlgrade_attack(MARKS, READS, WRITES)
'''


def attack_files(autograder, marks, tmp_path):
    root, site, a = autograder.root, autograder.site, autograder.assignment
    reads = {"salt": root / "source" / "salt.txt", "source": root / "source",
             "course_registry": root / "source" / "dlgrade" / "solutions" / a / "grading.py",
             "installed_registry": site / "dlgrade_course" / "solutions" / a / "grading.py",
             "grader": site / "grader" / "runner.py", "reference": site / "reference",
             "results": root / "results", "submission": root / "submission", "data": root / "source" / "data-cache",
             "parent_environ": "/proc/%d/environ"}
    writes = {"results_json": root / "results" / "results.json", "source": root / "source" / "attack.txt",
              "root": root / "attack.txt", "site": site / "attack.py", "grader": site / "grader" / "attack.py",
              "submission_copy": "attack.txt"}
    snippet = ATTACK.replace("MARKS", repr(str(marks))).replace("READS", repr({k: str(v) for k, v in reads.items()}))
    snippet = snippet.replace("WRITES", repr({k: str(v) for k, v in writes.items()}))
    with zipfile.ZipFile(answer_key_zip(a, tmp_path)) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    files["logistic.py"] += snippet.encode()
    return files


def world_usable(path):
    """Whether a user with no rights of its own can run `path` (every folder above it traversable)."""
    path = Path(os.path.realpath(path))
    return path.stat().st_mode & stat.S_IXOTH and all(p.stat().st_mode & stat.S_IXOTH for p in path.parents)


def markers(folder):
    return {p.name: p.read_text() for p in Path(folder).iterdir()}


def no_namespaces(autograder, workspace):
    """A PATH prefix whose `bwrap` fails as bubblewrap does in a container without CAP_SYS_ADMIN
    (skips where the uid sandbox cannot run at all)."""
    if os.geteuid() != 0:
        pytest.skip("the uid sandbox needs root (as run_autograder has on Gradescope)")
    if not world_usable(autograder.root / "venv" / "bin" / "python"):
        pytest.skip("the venv's interpreter lies where an unprivileged uid cannot run it")
    fake = workspace / "no-namespaces"
    fake.mkdir(exist_ok=True)
    (fake / "bwrap").write_text("#!/bin/sh\necho 'bwrap: Creating new namespace failed: Operation not permitted' >&2\n"
                                "exit 1\n")
    (fake / "bwrap").chmod(0o755)
    return f"{fake}:"


@pytest.mark.parametrize("autograder", ["cnn"], indirect=True)
def test_uid_sandbox_grades_the_answer_key_with_full_marks(autograder, tmp_path, workspace):
    """cnn: its speed items time the student's Conv2d against a trusted worker holding a copy of
    the references, which must be readable to that worker's uid though the installed ones are not."""
    results, stdout, seconds = run_until_speed_settles(
        autograder, set(), zip_file=answer_key_zip(autograder.assignment, tmp_path),
        path_prefix=no_namespaces(autograder, workspace))
    assert "using the uid sandbox" in stdout and results["extra_data"]["sandbox"] == "uid", stdout
    assert results["tests"] and lost(results) == set(), describe(results, lost(results))
    print(f"uid sandbox, {autograder.assignment} answer key: {seconds:.1f} s")


@pytest.mark.parametrize("autograder", ["linear"], indirect=True)
def test_uid_sandbox_where_bwrap_cannot_create_namespaces(autograder, tmp_path, workspace):
    prefix = no_namespaces(autograder, workspace)
    marks = Path(tempfile.mkdtemp(prefix="marks-", dir=workspace))
    marks.chmod(0o777)
    results, stdout, seconds = autograder.run(files=attack_files(autograder, marks, tmp_path), path_prefix=prefix)
    found = markers(marks)
    assert "using the uid sandbox" in stdout and results["extra_data"]["sandbox"] == "uid", stdout
    assert int(found.pop("ran")) in WORKER_UIDS
    assert lost(results) == set(), describe(results, lost(results))  # graded, with full marks
    assert autograder.salt not in found.pop("parent-cmdline", "")
    daemon = int(found.pop("daemon"))
    try:
        state = dict(line.split(":\t", 1) for line in Path(f"/proc/{daemon}/status").read_text().splitlines())
        assert int(state["Uid"].split()[0]) not in WORKER_UIDS or state["State"].startswith("Z"), state
    except FileNotFoundError:
        pass
    assert found == {}, f"the attack got through: {found}"
    assert not (autograder.root / "source" / "attack.txt").exists() and not (autograder.site / "attack.py").exists()
    print(f"uid sandbox, linear answer key with the attack: {seconds:.1f} s")

    # The control: the same attack without a sandbox reads the salt and the registry and writes
    # into the course files (the grader's own audit hook stops only the grader's folders).
    control = Path(tempfile.mkdtemp(prefix="control-", dir=workspace))
    control.chmod(0o777)
    folder = tmp_path / "attack"
    folder.mkdir()
    for name, data in attack_files(autograder, control, tmp_path).items():
        (folder / name).write_bytes(data)
    source = autograder.root / "source"
    r = subprocess.run([str(autograder.root / "venv" / "bin" / "dlgrade"), "grade", "linear", str(folder),
                        "--no-sandbox", "--item", "linear.logistic.gd_step", "--format", "json"],
                       capture_output=True, text=True, timeout=600,
                       env=base_env(DLGRADE_COURSE=source / "dlgrade", DLGRADE_CACHE=source / "data-cache",
                                    DLGRADE_SECRET_FILE=source / "salt.txt"))
    assert r.returncode == 0, r.stderr
    got = markers(control)
    assert {"read-salt", "read-source", "read-course_registry", "read-installed_registry", "wrote-source",
            "wrote-root"} <= set(got), got
