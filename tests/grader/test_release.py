"""`dlgrade release`: stubs generated from solutions, kept in sync, scoring zero."""
import importlib.util
import inspect

import numpy as np
import pytest

from grader.student.manifest import ReleaseError, strip_solutions
from tests.conftest import ROOT, dlgrade

SOLUTION = '''def f(x):
    """Doc stays."""
    # BEGIN SOLUTION
    y = x + 1
    return y
    # END SOLUTION


class A:
    def g(self):
        # BEGIN SOLUTION
        return 2
        # END SOLUTION
'''


def test_regions_become_not_implemented():
    stub = strip_solutions(SOLUTION)
    assert "x + 1" not in stub and "return 2" not in stub and '"""Doc stays."""' in stub
    namespace = {}
    exec(compile(stub, "stub", "exec"), namespace)
    with pytest.raises(NotImplementedError):
        namespace["f"](1)
    with pytest.raises(NotImplementedError):
        namespace["A"]().g()


@pytest.mark.parametrize("text, words", [
    ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n", "nested"),
    ("# BEGIN SOLUTION\nx = 1\n", "never closed"),
    ("x = 1\n# END SOLUTION\n", "without"),
], ids=["nested", "unterminated", "stray-end"])
def test_malformed_regions_are_errors_with_a_line(text, words):
    with pytest.raises(ReleaseError, match=words):
        strip_solutions(text, "layers.py")


def test_assignments_are_in_sync_with_solutions():
    result = dlgrade("release", "--check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "in sync" in result.stdout


def test_release_check_detects_drift(tmp_path):
    import shutil
    for name in ("solutions", "assignments"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("*.npz", "__pycache__"))
    shutil.copy(ROOT / "assignments/mlp/public_cases.npz", tmp_path / "assignments/mlp/")
    stub = tmp_path / "assignments/mlp/layers.py"
    stub.write_text(stub.read_text() + "\n# edited by hand\n")
    result = dlgrade("--course", tmp_path, "release", "mlp", "--check")
    assert result.returncode == 1 and "differs: layers.py" in result.stdout


def test_release_check_ignores_the_students_working_state_only(tmp_path):
    """What `dlgrade check` leaves in an assignment folder (hint levels, figures) is not drift; any
    other file is."""
    course = _copy_course(tmp_path)
    folder = course / "assignments/linear"
    (folder / ".dlgrade").mkdir()
    (folder / ".dlgrade/attempts.json").write_text("{}")
    (folder / "feedback").mkdir()
    (folder / "feedback/scores.png").write_bytes(b"png")
    assert dlgrade("--course", course, "release", "linear", "--check").returncode == 0
    (folder / "notes.txt").write_text("mine")
    result = dlgrade("--course", course, "release", "linear", "--check")
    assert result.returncode == 1 and "stale: notes.txt" in result.stdout


def _copy_course(tmp_path):
    import shutil
    for name in ("solutions", "assignments"):
        shutil.copytree(ROOT / name, tmp_path / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def _perturb_public_case(folder, change):
    """Rewrite `folder/public_cases.npz` with one float64 expected value changed by `change`."""
    from grader.sandbox import wire
    flat = wire.flatten(wire.load(folder / "public_cases.npz"))
    key = next(k for k, v in flat.items() if "/expected/" in k and v.dtype == np.float64 and v.size > 3)
    arr = flat[key].copy()
    arr.flat[1] = change(arr.flat[1])
    flat[key] = arr
    wire.save(folder / "public_cases.npz", wire.unflatten(flat))
    return key


@pytest.mark.parametrize("change, in_sync", [
    (lambda v: np.nextafter(v, np.inf), True),    # one ulp: another CPU's exp or BLAS
    (lambda v: v * (1 + 1e-3) + 1e-3, False),     # a real change of the expected value
], ids=["one-ulp", "1e-3"])
def test_release_check_tolerates_last_bit_differences_only(tmp_path, change, in_sync):
    root = _copy_course(tmp_path)
    key = _perturb_public_case(root / "assignments/mlp", change)
    result = dlgrade("--course", root, "release", "mlp", "--check")
    if in_sync:
        assert result.returncode == 0 and "mlp: in sync" in result.stdout, result.stdout + result.stderr
    else:
        assert result.returncode == 1, result.stdout
        assert f"differs: public_cases.npz: {key}: 1 of" in result.stdout, result.stdout  # names the array


def test_release_check_compares_integer_inputs_exactly(tmp_path):
    from grader.sandbox import wire
    root = _copy_course(tmp_path)
    path = root / "assignments/mlp/public_cases.npz"
    flat = wire.flatten(wire.load(path))
    key = next(k for k, v in flat.items() if "/inputs/" in k and v.dtype.kind == "i" and v.size > 1)
    flat[key] = flat[key].copy()
    flat[key].flat[0] += 1
    wire.save(path, wire.unflatten(flat))
    result = dlgrade("--course", root, "release", "mlp", "--check")
    assert result.returncode == 1 and f"{key}: 1 of" in result.stdout, result.stdout


def _load(path):
    spec = importlib.util.spec_from_file_location(f"stub_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    import sys
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


@pytest.mark.parametrize("name", ["layers", "losses", "optim", "init"])
def test_stubs_import_and_keep_no_answers(name):
    stub, solution = ROOT / f"assignments/mlp/{name}.py", ROOT / f"solutions/mlp/{name}.py"
    _load(stub)
    text = stub.read_text()
    assert "BEGIN SOLUTION" not in text
    assert text.count("raise NotImplementedError") >= solution.read_text().count("# BEGIN SOLUTION")


def test_public_cases_keep_no_figure_data():
    """Driver outputs for figures (`show/`, e.g. the initialisation study's histograms) are not
    stored: they are never compared, and counts near a bin edge could change with the CPU."""
    from grader.sandbox import wire
    flat = wire.flatten(wire.load(ROOT / "assignments/mlp/public_cases.npz"))
    assert "mlp.linear.forward/expected/0/0/y" in flat  # expected outputs are stored ...
    assert not [k for k in flat if "/show/" in k]  # ... figure data never
    assert not [k for k in flat if k.startswith("mlp.init.study/expected/")]  # the study compares no stored output


def test_weights_are_not_released():
    assert not list((ROOT / "assignments/mlp").glob("*_weights.npz"))


# --------------------------------------------------------------------------- files from earlier assignments
def test_earlier_files_are_released_as_their_stubs():
    from grader.student.manifest import earlier_header, keep_solutions
    for name in ("layers", "losses", "optim", "init"):
        for a in ("cnn", "autoencoder", "rnn", "sentiment"):
            released = (ROOT / f"assignments/{a}/{name}.py").read_text()
            assert released == earlier_header("mlp", f"{name}.py") + strip_solutions(
                (ROOT / f"solutions/mlp/{name}.py").read_text()), (a, name)
            assert released != keep_solutions((ROOT / f"solutions/{a}/{name}.py").read_text())
    assert (ROOT / "assignments/autoencoder/conv.py").read_text().startswith(earlier_header("cnn", "conv.py"))
    assert (ROOT / "assignments/rnn/mlp_model.py").read_text() == (ROOT / "solutions/mlp/model.py").read_text()


@pytest.mark.parametrize("assignment", ["cnn", "autoencoder", "rnn", "sentiment"])
def test_stubs_of_later_assignments_score_zero_not_attempted(assignment):
    import json
    result = dlgrade("grade", assignment, ROOT / "assignments" / assignment, "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["score"] == 0 and {i["status"] for i in report["items"]} == {"not_attempted"}, report


def test_release_follows_the_declaration_without_links(tmp_path):
    """A wheel cannot hold links: a course whose later files are copies releases the same stubs."""
    import shutil
    shutil.copytree(ROOT / "solutions", tmp_path / "solutions",  # links become copies
                    ignore=shutil.ignore_patterns("*.npz", "*.png", "__pycache__"))
    shutil.copytree(ROOT / "assignments", tmp_path / "assignments", symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    assert not [p for p in (tmp_path / "solutions").rglob("*") if p.is_symlink()]
    result = dlgrade("--course", tmp_path, "release", "rnn", "--check")
    assert result.returncode == 0 and "rnn: in sync" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize("edit, words", [
    (lambda sol: (sol / "rnn/grading.py").write_text(
        (sol / "rnn/grading.py").read_text().replace('"losses.py": "mlp/losses.py", ', "")),
     "solutions/rnn/losses.py is a link to ../mlp/losses.py: name it in grading.py's EARLIER"),
    (lambda sol: ((sol / "rnn/optim.py").unlink(), (sol / "rnn/optim.py").write_text("x = 1\n")),
     "solutions/rnn/optim.py differs from solutions/mlp/optim.py"),
    (lambda sol: (sol / "rnn/grading.py").write_text(
        (sol / "rnn/grading.py").read_text().replace('"mlp/init.py"', '"mlp/nothing.py"')),
     "solutions/rnn/grading.py: EARLIER: 'init.py': solutions/mlp/nothing.py does not exist"),
], ids=["undeclared-link", "copy-differs", "missing-source"])
def test_a_wrong_earlier_declaration_is_one_error_line(tmp_path, edit, words):
    root = _copy_course(tmp_path)
    edit(root / "solutions")
    result = dlgrade("--course", root, "release", "rnn")
    assert result.returncode == 1, result.stdout
    assert result.stderr.startswith("error: ") and words in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
