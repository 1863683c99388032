"""The student kit: what the archive holds (and never holds), a fresh install, check, submit."""
import ast
import hashlib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile

import pytest

from tests.conftest import ROOT, dlgrade

ASSIGNMENTS = ("linear", "mlp", "cnn", "autoencoder", "rnn", "sentiment")
LATER = {"cnn": {"mlp"}, "autoencoder": {"mlp", "cnn"}, "rnn": {"mlp"}, "sentiment": {"mlp", "rnn"}}  # whose files each one builds on


@pytest.fixture(scope="module")
def mlp_kit(tmp_path_factory):
    out = tmp_path_factory.mktemp("kit") / "mlp-kit.zip"
    result = dlgrade("release", "mlp", "--kit", out)
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def kits(tmp_path_factory):
    """{assignment: unpacked kit folder}, every kit built by the real command with its defaults."""
    out = {}
    for a in ASSIGNMENTS:
        where = tmp_path_factory.mktemp(f"{a}-kit")
        result = dlgrade("release", a, "--kit", where / f"{a}-kit.zip")
        assert result.returncode == 0, result.stderr
        with zipfile.ZipFile(where / f"{a}-kit.zip") as zf:
            zf.extractall(where)
        out[a] = where / a
    return out


def _archive_texts(path):
    """{name: text} of every file in a zip, wheels opened too."""
    out = {}
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            data = zf.read(name)
            if name.endswith(".whl"):
                out.update({f"{name}!{k}": v for k, v in _archive_texts(io.BytesIO(data)).items()})
            elif not name.endswith(".npz"):
                out[name] = data.decode("utf-8", "replace")
    return out


def _function_lines(path, per_function=3):
    """A few distinctive code lines of every function in `path` (no docstrings, no comments)."""
    source = path.read_text()
    lines = source.splitlines()
    picked = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body[1:] if ast.get_docstring(node) else node.body
            if not body:
                continue
            code = [lines[i].strip() for i in range(body[0].lineno - 1, node.end_lineno)]
            code = [c for c in code if len(c) >= 28 and not c.startswith(("#", "raise ", "return {", '"'))]
            for c in sorted(code, key=len, reverse=True)[:per_function]:
                picked[c] = f"{path.relative_to(ROOT)}:{node.name}"
    return picked


def _solution_lines(path):
    """(lines inside solution regions, lines outside: given code that students see by design)."""
    secret, given, inside = {}, set(), False
    for line in path.read_text().splitlines():
        if line.strip() == "# BEGIN SOLUTION":
            inside = True
        elif line.strip() == "# END SOLUTION":
            inside = False
        elif inside and len(line.strip()) >= 28 and not line.strip().startswith("#"):
            secret[line.strip()] = str(path.relative_to(ROOT))
        elif not inside:
            given.add(line.strip())
    return secret, given


def _wheel_of(kit_zip) -> tuple:
    """(the kit's file names, its wheel's name, {name in the wheel: bytes})."""
    with zipfile.ZipFile(kit_zip) as zf:
        names = set(zf.namelist())
        wheel_name = next(n for n in names if n.endswith(".whl"))
        with zipfile.ZipFile(io.BytesIO(zf.read(wheel_name))) as wheel:
            return names, wheel_name, {n: wheel.read(n) for n in wheel.namelist()}


def _not_for_students(in_wheel: dict) -> list:
    """What a student's wheel must never hold: the instructor's release code, the engine's
    reference oracle, the instructor's commands and reviews, the class view, known bugs, `reference/`,
    `solutions/`, and any file of `solutions/` under another name (its registries, `grading.py`,
    its own worker drivers, `drivers.py`, and its datasets, `datasets.py`, travel on purpose as
    `grader/assignments/<a>.py`, `.../_drivers/<a>.py` and `.../_datasets.py`)."""
    bad = [n for n in in_wheel if n.startswith(("grader/release/", "reference/", "solutions/"))
           or n in ("grader/engine/oracle.py", "grader/reports/classview.py", "grader/mutants.py",
                    "grader/cli/instructor.py", "grader/reports/destinations.py", "grader/cli/review.py",
                    "grader/reports/similarity.py")
           or n.endswith("mutants.py")]
    answers = {p.read_bytes(): str(p.relative_to(ROOT)) for p in (ROOT / "solutions").rglob("*.py")
               if p.name not in ("grading.py", "drivers.py", "datasets.py") and "__pycache__" not in p.parts}
    answers.update({p.read_bytes(): str(p.relative_to(ROOT)) for p in (ROOT / "reference").rglob("*.py")
                    if p.stat().st_size > 200})
    bad += [f"{n} (= {answers[data]})" for n, data in in_wheel.items() if data in answers]
    return bad


def test_kit_holds_stubs_cases_contract_readme_and_wheel(mlp_kit):
    names, wheel_name, in_wheel = _wheel_of(mlp_kit)
    stubs = {f"mlp/{p.name}" for p in (ROOT / "assignments/mlp").iterdir() if p.is_file()}
    lesson = {"mlp/mlp.ipynb"} if (ROOT / "solutions/mlp/lesson.md").is_file() else set()  # its companion notebook
    assert names == stubs | {"mlp/README.md", "mlp/CONTRACT.md", wheel_name} | lesson
    assert wheel_name.startswith("mlp/dlgrade_student-")
    assert {"grader/cli/__init__.py", "grader/cli/student.py", "grader/engine/__init__.py", "grader/engine/grading.py", "grader/student/data.py",
            "grader/student/submit.py", "grader/student/manifest.py", "grader/student_kit.json",
            "grader/assignments/mlp.py"} <= set(in_wheel)
    assert not _not_for_students(in_wheel), _not_for_students(in_wheel)


def test_the_wheel_holds_only_the_named_modules(tmp_path, monkeypatch):
    """The wheel is built from the explicit list (`grader.release.wheel`): the modules it names,
    the course's registries and the manifest; naming an instructor's module is what puts it in,
    and the check above finds it."""
    from grader import course
    from grader.release import wheel
    built = wheel.build_wheel(ROOT, tmp_path, {"assignments": {}, "default": None})
    with zipfile.ZipFile(built) as zf:
        in_wheel = {n: zf.read(n) for n in zf.namelist()}
    expected = {name for name, _ in wheel.student_modules(ROOT)}
    expected |= {f"grader/assignments/{a}.py" for a, _ in course.registries(ROOT)} | {"grader/student_kit.json"}
    expected |= {f"grader/assignments/_drivers/{a}.py" for a, _ in wheel.course_drivers(ROOT)}
    assert "grader/assignments/_drivers/autoencoder.py" in expected  # the course's own drivers
    expected |= {"grader/assignments/_datasets.py"}  # and its datasets
    assert {n for n in in_wheel if not n.startswith(wheel.DIST)} == expected
    assert not _not_for_students(in_wheel)
    monkeypatch.setattr(wheel, "STUDENT_MODULES", wheel.STUDENT_MODULES + ("grader/release/kit.py",))
    with zipfile.ZipFile(wheel.build_wheel(ROOT, tmp_path, {"assignments": {}, "default": None})) as zf:
        assert _not_for_students({n: zf.read(n) for n in zf.namelist()}) == ["grader/release/kit.py"]
    monkeypatch.setattr(wheel, "STUDENT_MODULES", wheel.STUDENT_MODULES + ("grader/no_such_module.py",))
    with pytest.raises(wheel.ReleaseError, match="no_such_module.py is named in grader/release/wheel.py"):
        wheel.build_wheel(ROOT, tmp_path, {"assignments": {}, "default": None})


# Runs `dlgrade check` then `dlgrade submit` in this interpreter, with `grader` from the folder
# sys.argv[1] only (this repository's editable install hidden), then imports every module sys.argv[2:] names; prints the
# `grader`, `reference` and `solutions` modules loaded by the two commands, and the failed imports.
_CHECK_AND_SUBMIT = """
import importlib, json, sys
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in type(f).__module__.lower()]
sys.path[:] = [sys.argv[1]] + [p for p in sys.path if "__editable__" not in p and p not in ("", ".")]
from grader.cli import main
codes = []
for args in (["check"], ["submit"]):
    try:
        main(args)
        codes.append(0)
    except SystemExit as exc:
        codes.append(exc.code)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("grader", "reference", "solutions"))
failed = []
for name in sys.argv[2:]:
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed.append(f"{name}: {type(exc).__name__}: {exc}")
print("RESULT " + json.dumps({"codes": codes, "loaded": loaded, "failed": failed,
                              "grader": importlib.import_module("grader").__file__}))
"""


def _check_and_submit(folder, site, modules=()):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DLGRADE_COURSE")}
    r = subprocess.run([sys.executable, "-c", _CHECK_AND_SUBMIT, str(site), *modules], cwd=folder, env=env,
                       capture_output=True, text=True, timeout=600)
    lines = [line for line in r.stdout.splitlines() if line.startswith("RESULT ")]
    assert r.returncode == 0 and lines, r.stdout[-3000:] + r.stderr[-3000:]
    return dict(json.loads(lines[-1][len("RESULT "):]), stdout=r.stdout)


def _instructor_side(loaded) -> list:
    return [m for m in loaded if m.startswith(("grader.release", "grader.engine.oracle", "reference", "solutions"))]


@pytest.mark.parametrize("assignment", ["mlp", "autoencoder"])  # autoencoder: the course's own drivers
def test_check_and_submit_run_on_the_wheel_alone_and_never_load_release_code(kits, assignment, tmp_path, request):
    """In the unzipped kit, with `grader` from its wheel only (this repository hidden): `check`
    and `submit` run, every module of the wheel imports, and neither command loads `grader.release`,
    the engine's oracle or `reference`. The autoencoder kit holds the answer key and its weights:
    its trained models are evaluated by the course's own driver, which only the wheel carries."""
    kit = shutil.copytree(kits[assignment], tmp_path / assignment)
    if assignment == "autoencoder":
        request.getfixturevalue("needs_data")
        for path in (ROOT / "solutions/autoencoder").iterdir():
            if path.name.endswith(("_weights.npz", ".py")) and path.name not in ("grading.py", "mutants.py", "drivers.py"):
                shutil.copyfile(path, kit / path.name)
    site = tmp_path / "site"
    with zipfile.ZipFile(next(kit.glob("dlgrade_student-*.whl"))) as zf:
        zf.extractall(site)
    modules = sorted(str(p.relative_to(site).with_suffix("")).replace(os.sep, ".").removesuffix(".__init__")
                     for p in (site / "grader").rglob("*.py") if "_drivers" not in p.parts)
    result = _check_and_submit(kit, site, modules)
    assert result["grader"] == str(site / "grader" / "__init__.py")
    assert result["codes"] == [0, 0], result
    assert (kit / "submission.zip").is_file()
    assert not result["failed"], result["failed"]
    assert "grader.student.submit" in result["loaded"] and not _instructor_side(result["loaded"]), result["loaded"]
    if assignment == "autoencoder":
        rows = _table(result["stdout"])
        assert rows["autoencoder.fc.reconstruction"] == rows["autoencoder.conv.reconstruction"] == "passed", rows


def test_check_and_submit_in_the_course_repository_never_load_release_code(tmp_path):
    """The same commands in a course repository, where `grader.release` is one import away."""
    folder = shutil.copytree(ROOT / "assignments/mlp", tmp_path / "mlp")
    result = _check_and_submit(folder, ROOT)
    assert result["grader"] == str(ROOT / "grader" / "__init__.py")
    assert result["codes"] == [0, 0], result
    assert "grader.student.manifest" in result["loaded"] and not _instructor_side(result["loaded"]), result["loaded"]
    assert _instructor_side(["grader.student.submit", "grader.release.stubs", "reference.layers"]) == [
        "grader.release.stubs", "reference.layers"]


def test_kit_holds_no_reference_solution_or_known_bug_code(mlp_kit):
    texts = _archive_texts(mlp_kit)
    secret = {}
    for path in sorted((ROOT / "reference").glob("*.py")):
        secret.update(_function_lines(path))
    for path in [ROOT / "grader/mutants.py", *sorted((ROOT / "solutions").glob("*/mutants.py"))]:
        if path.is_file():  # the known bugs (with the course since issue 20)
            secret.update(_function_lines(path))
    given = set()
    for path in sorted((ROOT / "solutions/mlp").glob("*.py")):
        lines, outside = _solution_lines(path)
        secret.update(lines)
        given |= outside
    secret = {line: where for line, where in secret.items() if line not in given}  # e.g. Flatten, __repr__
    assert len(secret) > 150  # a real sample: a few lines of every function
    leaks = [f"{where}: {line!r} in {name}" for line, where in secret.items()
             for name, text in texts.items() if line in text]
    assert not leaks, "\n".join(leaks[:20])
    assert not any("reference/" in text for name, text in texts.items() if name.endswith(".md"))


def test_kit_public_cases_hold_public_items_only(mlp_kit):
    with zipfile.ZipFile(mlp_kit) as zf:
        cases = json.loads(zf.read("mlp/public_cases.json"))
    from grader import engine
    hidden = {i.id for i in engine.items("mlp") if i.visibility == "hidden"}
    assert hidden and not hidden & set(cases)


def _table(stdout):
    """{item id: status} from the item table `dlgrade check` prints (the lines before `total`)."""
    rows = {}
    for line in stdout.splitlines():
        if line.startswith("total"):
            break
        if line.split() and "." in line.split()[0] and " / " in line:
            rows[line.split()[0]] = line.split()[-1]
    return rows


def _run(args, cwd, env, timeout=600):
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return result


@pytest.mark.slow
def test_kit_installs_in_a_fresh_venv_checks_trains_and_submits(mlp_kit, tmp_path, needs_data):
    """No clone of the repository: the README's commands, as written, in one shell where the kit
    was unzipped (they make the venv and install the kit's wheel); then check and submit."""
    with zipfile.ZipFile(mlp_kit) as zf:
        zf.extractall(tmp_path)
    kit = tmp_path / "mlp"
    env_dir = kit / ".venv"
    bin_dir = env_dir / "bin"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    readme = (kit / "README.md").read_text()
    script = "\n".join(["set -euo pipefail", *(line for block in _blocks(readme, "bash") for line in block)])
    r = _run(["bash", "-x", "-c", script], tmp_path, env, timeout=1200)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]  # bash -x: the failing line is the last '+'
    assert (kit / "submission.zip").is_file()
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    r = _run([bin_dir / "python", "-c", "import grader, importlib.util as u; "
              "print(grader.__file__, u.find_spec('reference'), u.find_spec('grader.mutants'))"], tmp_path, env)
    assert str(env_dir) in r.stdout and r.stdout.split()[1:] == ["None", "None"], r.stdout + r.stderr

    r = _run(["dlgrade", "check"], kit, env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert set(_table(r.stdout).values()) == {"not_attempted"}, r.stdout
    assert next(line for line in r.stdout.splitlines() if line.startswith("total")).split()[1] == "0"

    for name in ("init", "layers", "losses", "model", "optim"):
        shutil.copyfile(ROOT / f"solutions/mlp/{name}.py", kit / f"{name}.py")
    shutil.copyfile(ROOT / "solutions/mlp/mlp_weights.npz", kit / "mlp_weights.npz")
    r = _run(["dlgrade", "check", "mlp", "."], kit, env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert set(_table(r.stdout).values()) == {"passed"}, r.stdout
    total = next(line for line in r.stdout.splitlines() if line.startswith("total")).split()
    assert total[1] == total[3] and float(total[1]) > 80, total
    assert (kit / "feedback" / "mlp.init.study.png").stat().st_size > 10_000, r.stdout  # drawn by the kit's tool

    r = _run(["python", "train.py", "--help"], kit, env)
    assert r.returncode == 0 and "--epochs" in r.stdout, r.stderr

    r = _run(["dlgrade", "submit"], kit, env)
    assert r.returncode == 0, r.stdout + r.stderr
    with zipfile.ZipFile(kit / "submission.zip") as zf:
        assert sorted(zf.namelist()) == ["answers.md", "backend.py", "init.py", "layers.py", "losses.py",
                                         "mlp_weights.npz", "model.py", "optim.py", "train.py"]
    graded = dlgrade("grade", "mlp", kit / "submission.zip", "--format", "json")
    assert graded.returncode == 0, graded.stderr
    report = json.loads(graded.stdout)
    assert report["score"] == report["max_score"] == 100


def test_check_without_data_costs_only_the_items_that_need_it(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DLGRADE_DATA"}
    env.update(DLGRADE_CACHE=str(tmp_path / "empty-cache"), http_proxy="http://127.0.0.1:9",
               https_proxy="http://127.0.0.1:9")
    folder = shutil.copytree(ROOT / "solutions/mlp", tmp_path / "mlp")  # check writes feedback/ into it
    r = dlgrade("check", "mlp", folder, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = _table(r.stdout)
    assert rows.pop("mlp.train.accuracy") == "error"
    assert set(rows.values()) == {"passed"}
    assert "not checked: cifar10 is not on this machine: run `dlgrade data fetch cifar10`" in r.stdout
    assert "feedback/mlp.init.study.png: activation std per layer" in r.stdout
    assert (folder / "feedback" / "mlp.init.study.png").stat().st_size > 10_000
    assert not (tmp_path / "empty-cache").exists() or not any((tmp_path / "empty-cache").rglob("*.tar.gz"))


def _student_folder(tmp_path):
    folder = tmp_path / "work"
    shutil.copytree(ROOT / "assignments/mlp", folder)
    for name in ("init", "layers", "losses", "model", "optim"):
        shutil.copyfile(ROOT / f"solutions/mlp/{name}.py", folder / f"{name}.py")
    return folder


def test_submit_names_each_problem_and_writes_nothing(tmp_path):
    folder = _student_folder(tmp_path)
    (folder / "optim.py").unlink()
    (folder / "losses.py").write_text("def broken(:\n")
    (folder / "mlp_weights.npz").write_bytes(b"not an npz")
    r = dlgrade("submit", "mlp", folder)
    assert r.returncode == 1
    assert "error: optim.py is missing" in r.stderr
    assert "error: losses.py:1: SyntaxError" in r.stderr
    assert "error: mlp_weights.npz: mlp_weights.npz is not a NumPy .npz archive" in r.stderr
    assert not (folder / "submission.zip").exists()


def test_submit_without_weights_warns_and_packs_the_code(tmp_path):
    folder = _student_folder(tmp_path)
    (folder / "notes.txt").write_text("not part of the submission")
    r = dlgrade("submit", "mlp", folder, "--no-check", "-o", tmp_path / "out.zip")
    assert r.returncode == 0, r.stderr
    assert "warning: mlp_weights.npz is missing: mlp.train.accuracy (8 points) will score 0" in r.stderr
    with zipfile.ZipFile(tmp_path / "out.zip") as zf:
        assert sorted(zf.namelist()) == ["answers.md", "backend.py", "init.py", "layers.py", "losses.py", "model.py",
                                         "optim.py", "train.py"]  # the code, the given backend, the inline answers


# --------------------------------------------------------------------------- per-assignment documents
def _headings(markdown):
    """The `#` and `##` heading lines of a markdown text, fenced code left out."""
    out, fenced = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,2} ", line):
            out.append(line)
    return out


def _own_section(assignment):
    """The section of docs/contracts.md whose top-level heading names the assignment."""
    text = (ROOT / "docs/contracts.md").read_text()
    sections = [s for s in re.split(r"(?m)^(?=# )", text) if s.strip()]
    own = [s for s in sections if re.match(rf"# .*the `{assignment}` assignment", s.splitlines()[0], re.I)]
    assert len(own) == 1, f"docs/contracts.md: {len(own)} sections for {assignment}"
    return own[0]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_contract_holds_only_the_assignments_own_section(kits, assignment):
    contract = (kits[assignment] / "CONTRACT.md").read_text()
    headings = _headings(contract)
    assert headings == _headings(_own_section(assignment)), headings
    assert [h for h in headings if h.startswith("# ")] == [headings[0]]
    others = [a for a in ASSIGNMENTS if a != assignment]
    assert not [h for h in headings for a in others if f"the `{a}` assignment" in h.lower()], headings
    # one line per earlier assignment: whose contract, and that the student copies in their own files
    earlier = [line for line in contract.splitlines() if line.startswith("- ") and "assignment's contract" in line]
    assert {re.search(r"the `(\w+)` assignment's contract", line).group(1) for line in earlier} \
        == LATER.get(assignment, set()), earlier
    assert all("copy in your own" in line for line in earlier), earlier
    assert "reference/" not in contract and "solutions/" not in contract


def _blocks(markdown, language):
    """The lines of every ```<language> block."""
    out, current = [], None
    for line in markdown.splitlines():
        if current is None and line.strip() == f"```{language}":
            current = []
        elif current is not None and line.strip() == "```":
            out.append(current)
            current = None
        elif current is not None:
            current.append(line)
    return out


def _command(line):
    """A README line as the shell runs it, the comment after `#` dropped (shlex honours quotes)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    return list(lexer)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_readme_commands_are_one_per_line_and_name_what_the_kit_has(kits, assignment):
    from grader import engine
    from grader import course
    kit = kits[assignment]
    readme = (kit / "README.md").read_text()
    bash = [line for block in _blocks(readme, "bash") for line in block]
    assert bash[0] == f"cd {assignment}" and any(line.startswith("pip install dlgrade_student-") for line in bash)
    commands = [_command(line) for line in bash]
    for line, words in zip(bash, commands):
        assert words, f"an empty line in a bash block: {line!r}"
        assert not {"&&", "||", ";", "|", "&"} & set(words) and "`" not in line.split("#")[0], \
            f"not one command: {line!r}"
    for words in commands:
        files = [w for w in words if re.search(r"\.(py|whl|npz|md|txt)$", w)]
        assert all((kit / f).is_file() for f in files), f"{words}: not in the kit"
        if words[:3] == ["dlgrade", "data", "fetch"]:
            assert words[3:] and set(words[3:]) <= set(course.data(assignment)), words
        if words[:3] == ["dlgrade", "check", "--item"]:
            assert any(i.id.startswith(words[3]) for i in engine.items(assignment) if i.visibility == "public"), words
    fetched = {w[3] for w in commands if w[:3] == ["dlgrade", "data", "fetch"]}
    assert fetched == set(course.data(assignment))
    train = [line for block in _blocks(readme, "sh") for line in block]
    assert tuple(train) == tuple(getattr(course.load(assignment), "TRAIN", ("python train.py",)))
    assert all(_command(line)[0] == "python" and (kit / _command(line)[1]).is_file() for line in train)  # kit scripts
    hidden = [i for i in engine.items(assignment) if i.visibility == "hidden"]
    assert ("hidden" in readme) == bool(hidden) and ("your instructor grades" in readme) == bool(hidden)


def test_rnn_training_commands_name_the_dataset(kits):
    """rnn's train.py needs --dataset: the README shows one command per dataset, and each parses;
    the temperature forecaster has a script of its own (its series ships with the course)."""
    readme = (kits["rnn"] / "README.md").read_text()
    train = [line for block in _blocks(readme, "sh") for line in block]
    assert train == ["python train.py --dataset names", "python train.py --dataset shakespeare",
                     "python train_series.py"]
    source = (kits["rnn"] / "train.py").read_text()
    assert 'add_argument("--dataset", choices=sorted(DEFAULTS), required=True)' in source
    assert re.search(r'DEFAULTS = \{\s*"names"', source) and '"shakespeare"' in source


# --------------------------------------------------------------------------- earlier answer keys
def _earlier_secrets(assignment):
    """Lines of the earlier assignments' solution regions that the assignment's own given code
    does not also hold."""
    from grader.student.manifest import earlier_files
    secret, given = {}, set()
    for rel, (earlier, name) in earlier_files(assignment, ROOT).items():
        lines, outside = _solution_lines(ROOT / "solutions" / earlier / name)
        secret.update(lines)
        given |= outside
    for path in (ROOT / "solutions" / assignment).glob("*.py"):
        if not path.is_symlink():
            given |= _solution_lines(path)[1] | set(_solution_lines(path)[0])
    return {line: where for line, where in secret.items() if line not in given}


def _leaks(kit, secret):
    return [f"{where}: {line!r} in {path.name}" for path in sorted(kit.glob("*.py"))
            for line, where in secret.items() if line in path.read_text()]


def _forward_raises(kit):
    """Whether the kit's layers.py, imported from the kit, raises NotImplementedError in Linear.forward."""
    code = ("import sys, numpy as np; sys.path.insert(0, '.'); import layers\n"
            "try:\n    layers.Linear(in_features=2, out_features=3).forward(np.ones((1, 2)), "
            "{'W': np.ones((2, 3)), 'b': np.zeros(3)})\nexcept NotImplementedError:\n    print('stub')\n"
            "else:\n    print('working')\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=kit, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


@pytest.mark.parametrize("assignment", sorted(LATER))
def test_no_kit_holds_an_earlier_answer_key_by_default(kits, assignment):
    kit = kits[assignment]
    secret = _earlier_secrets(assignment)
    assert len(secret) > 50, len(secret)  # a real sample of the mlp (and cnn) answers
    leaks = _leaks(kit, secret)
    assert not leaks, "\n".join(leaks[:20])
    assert _forward_raises(kit) == "stub"
    first = (kit / "layers.py").read_text().splitlines()[0]
    assert first.startswith("# From the `mlp` assignment") and "Copy your own" in first
    assert (kit / "mlp_model.py").read_text() == (ROOT / "solutions/mlp/model.py").read_text()  # given code


def test_give_earlier_ships_the_earlier_answer_key(tmp_path):
    """The instructor's explicit choice: the same kit with the mlp answers as working code (and
    the leak check above finds them, so it can fail)."""
    from grader.release.kit import build_kit
    from grader.student.manifest import keep_solutions
    out = build_kit("rnn", ROOT, tmp_path / "rnn-kit.zip", give_earlier=True)
    with zipfile.ZipFile(out) as zf:
        zf.extractall(tmp_path)
    kit = tmp_path / "rnn"
    for name in ("layers", "losses", "optim", "init"):
        assert (kit / f"{name}.py").read_text() == keep_solutions((ROOT / f"solutions/mlp/{name}.py").read_text())
    assert len(_leaks(kit, _earlier_secrets("rnn"))) > 100
    assert _forward_raises(kit) == "working"
    contract, readme = (kit / "CONTRACT.md").read_text(), (kit / "README.md").read_text()
    assert "given as working code" in contract and "copy in your own" not in contract
    assert "given as working code" in readme and "still the stub" not in readme
    assert "raise NotImplementedError" in (kit / "rnn.py").read_text()  # rnn's own answers stay out


def test_the_kit_tool_knows_each_earlier_stub(kits):
    """The manifest inside the kit's wheel holds the hash of each earlier stub it ships, which is
    how `dlgrade check` and `submit` name a file the student has not replaced."""
    kit = kits["rnn"]
    wheel = next(kit.glob("dlgrade_student-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        manifest = json.loads(zf.read("grader/student_kit.json"))
    earlier = manifest["assignments"]["rnn"]["earlier"]
    assert sorted(e["file"] for e in earlier) == ["init.py", "layers.py", "losses.py", "optim.py"]
    for e in earlier:
        assert e["from"] == "mlp" and e["source"] == e["file"]
        assert hashlib.sha256((kit / e["file"]).read_bytes()).hexdigest() == e["sha256"]
    assert manifest["assignments"]["rnn"]["train"] == ["python train.py --dataset names",
                                                       "python train.py --dataset shakespeare",
                                                       "python train_series.py"]


def test_submit_names_an_earlier_file_still_the_stub(tmp_path):
    folder = shutil.copytree(ROOT / "assignments/rnn", tmp_path / "rnn")
    shutil.copyfile(ROOT / "solutions/mlp/layers.py", folder / "layers.py")  # the student's own mlp work
    (folder / "losses.py").write_text((folder / "losses.py").read_text() + "\n# started on it\n")
    r = dlgrade("submit", "rnn", folder, "--no-check")
    assert r.returncode == 0, r.stderr
    assert "warning: optim.py is still the stub from mlp: copy in your own mlp/optim.py" in r.stderr
    assert "warning: init.py is still the stub from mlp" in r.stderr
    assert "layers.py is still" not in r.stderr and "losses.py is still" not in r.stderr  # replaced, edited
    assert "run `python train.py --dataset names` to create it" in r.stderr
