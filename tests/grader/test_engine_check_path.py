"""`dlgrade check` compares with the public cases of a released assignment and never loads the
reference oracle (`grader.engine.oracle`) nor `reference/`; `dlgrade grade` does."""
import shutil
import subprocess
import sys

from tests.conftest import ROOT

PROBE = """
import sys
from grader.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
loaded = sorted(m for m in sys.modules if m in ("reference", "grader.engine.oracle") or m.startswith("reference."))
print("LOADED", loaded)
sys.exit(code)
"""


def _run(*args, cwd=ROOT):
    result = subprocess.run([sys.executable, "-c", PROBE, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                            timeout=600)
    loaded = [line for line in result.stdout.splitlines() if line.startswith("LOADED")]
    assert loaded, result.stdout + result.stderr
    return result, eval(loaded[-1][len("LOADED "):])


def test_check_never_loads_the_oracle(tmp_path):
    folder = tmp_path / "linear"
    shutil.copytree(ROOT / "assignments" / "linear", folder)  # a released assignment: stubs + public cases
    for f in ("linear.py", "logistic.py"):
        shutil.copy(ROOT / "solutions" / "linear" / f, folder / f)
    result, loaded = _run("check", "--item", "linear.logistic", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert "linear.logistic.sigmoid" in result.stdout and "passed" in result.stdout
    assert loaded == []


def test_grade_loads_it(tmp_path):
    """The other side: the probe sees the oracle when something grades against the reference."""
    result, loaded = _run("grade", "linear", ROOT / "solutions" / "linear", "--item", "linear.logistic.sigmoid")
    assert result.returncode == 0, result.stderr
    assert "grader.engine.oracle" in loaded and "reference" in loaded
