"""`dlgrade release`: stubs generated from solutions, kept in sync, scoring zero."""
import importlib.util
import inspect

import numpy as np
import pytest

from grader.release import ReleaseError, strip_solutions
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


def _copy_course(tmp_path):
    import shutil
    for name in ("solutions", "assignments"):
        shutil.copytree(ROOT / name, tmp_path / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def _perturb_public_case(folder, change):
    """Rewrite `folder/public_cases.npz` with one float64 expected value changed by `change`."""
    from grader import wire
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
    from grader import wire
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
    from grader import wire
    flat = wire.flatten(wire.load(ROOT / "assignments/mlp/public_cases.npz"))
    assert "mlp.init.study/expected/0/stats" in flat
    assert not [k for k in flat if "/show/" in k]


def test_weights_are_not_released():
    assert not list((ROOT / "assignments/mlp").glob("*_weights.npz"))
