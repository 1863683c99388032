"""The student kit: what the archive holds (and never holds), a fresh install, check, submit."""
import ast
import io
import json
import os
import shutil
import subprocess
import venv
import zipfile

import pytest

from tests.conftest import ROOT, dlgrade


@pytest.fixture(scope="module")
def mlp_kit(tmp_path_factory):
    out = tmp_path_factory.mktemp("kit") / "mlp-kit.zip"
    result = dlgrade("release", "mlp", "--kit", out)
    assert result.returncode == 0, result.stderr
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


def test_kit_holds_stubs_cases_contract_readme_and_wheel(mlp_kit):
    with zipfile.ZipFile(mlp_kit) as zf:
        names = set(zf.namelist())
        wheel_name = next(n for n in names if n.endswith(".whl"))
        with zipfile.ZipFile(io.BytesIO(zf.read(wheel_name))) as wheel:
            in_wheel = set(wheel.namelist())
    stubs = {f"mlp/{p.name}" for p in (ROOT / "assignments/mlp").iterdir() if p.is_file()}
    assert names == stubs | {"mlp/README.md", "mlp/CONTRACT.md", wheel_name}
    assert wheel_name.startswith("mlp/dlgrade_student-")
    assert {"grader/cli.py", "grader/api.py", "grader/data.py", "grader/submit.py", "grader/student_kit.json"} <= in_wheel
    assert not [n for n in in_wheel if n.startswith(("reference/", "solutions/")) or n.endswith(
        ("mutants.py", "release.py", "kit.py", "nbgrader.py", "classview.py"))], in_wheel


def test_kit_holds_no_reference_solution_or_known_bug_code(mlp_kit):
    texts = _archive_texts(mlp_kit)
    secret = {}
    for path in sorted((ROOT / "reference").glob("*.py")):
        secret.update(_function_lines(path))
    secret.update(_function_lines(ROOT / "grader/mutants.py"))
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
    from grader import api
    hidden = {i.id for i in api.items("mlp") if i.visibility == "hidden"}
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
    """No clone of the repository: the kit's wheel in a new venv, run from the unpacked kit."""
    with zipfile.ZipFile(mlp_kit) as zf:
        zf.extractall(tmp_path)
    kit = tmp_path / "mlp"
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    wheel = next(kit.glob("dlgrade_student-*.whl"))
    r = _run([bin_dir / "pip", "install", "-q", wheel.name], kit, env)
    assert r.returncode == 0, r.stderr
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
        assert sorted(zf.namelist()) == ["init.py", "layers.py", "losses.py", "mlp_weights.npz", "model.py",
                                         "optim.py", "train.py"]
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
    assert "warning: mlp_weights.npz is missing: mlp.train.accuracy (11 points) will score 0" in r.stderr
    with zipfile.ZipFile(tmp_path / "out.zip") as zf:
        assert sorted(zf.namelist()) == ["init.py", "layers.py", "losses.py", "model.py", "optim.py", "train.py"]
