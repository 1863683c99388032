"""The nbgrader course as an instructor runs it, from the installed wheel: `dlgrade release
--nbgrader`, then nbgrader's own `generate_assignment`, `autograde` (no checksum warning for an
honest notebook), dlgrade's trusted path, and `generate_feedback` (the explanation under the cell).

nbgrader is installed into the wheel's venv through the wheel's own `nbgrader` extra.
"""
import html
import json
import re
import shutil
import sys

import pytest

from tests.journeys.conftest import REPO, needs_data

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.version_info < (3, 11), reason="nbgrader needs Python >= 3.11")]
BUG = REPO / "tests" / "submissions" / "mlp" / "bugs" / "linear_dW_transposed.py"


@pytest.fixture(scope="module")
def nbgrader_venv(wheel_venv, artifacts, run):
    run(wheel_venv / "bin" / "pip", "install", "-q", f"{artifacts['wheel']}[nbgrader]")
    return wheel_venv / "bin"


def _answered(source, release):
    """The release notebook with every solution cell filled in from the source notebook."""
    answers = {c["id"]: c["source"] for c in source["cells"]}
    nb = json.loads(json.dumps(release))
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("solution"):
            cell["source"] = answers[cell["id"]]
    return nb


def test_nbgrader_course_from_the_wheel(nbgrader_venv, run, scratch):
    needs_data()
    course = scratch / "nbgrader-course"
    shutil.rmtree(course, ignore_errors=True)
    run(nbgrader_venv / "dlgrade", "--course", REPO, "release", "mlp", "--nbgrader", course)
    nbgrader = lambda *args: run(nbgrader_venv / "nbgrader", *args, cwd=course)  # noqa: E731
    nbgrader("generate_assignment", "mlp")
    release = json.loads((course / "release/mlp/mlp.ipynb").read_text())
    source = json.loads((course / "source/mlp/mlp.ipynb").read_text())
    wheels = list((course / "release/mlp").glob("dlgrade_student-*.whl"))
    assert len(wheels) == 1  # what the notebook's first cell tells students to install

    alice, bob = _answered(source, release), _answered(source, release)
    module = re.search(r"^# file: (\S+)", BUG.read_text(), re.M).group(1)
    at = 1 + next(n for n, c in enumerate(bob["cells"]) if c["id"] == "layers-Linear")  # the lesson's Linear cell
    bob["cells"].insert(at, {"cell_type": "code", "execution_count": None, "id": "bug", "metadata": {},
                             "outputs": [], "source": f"%%writefile -a {module}\n\n" + BUG.read_text()})
    for student, nb in (("alice", alice), ("bob", bob)):
        folder = course / "submitted" / student / "mlp"
        folder.mkdir(parents=True)
        (folder / "mlp.ipynb").write_text(json.dumps(nb))
        shutil.copyfile(REPO / "solutions/mlp/mlp_weights.npz", folder / "mlp_weights.npz")

    plain = nbgrader("autograde", "mlp", "--student", "alice")
    assert "checksum" not in plain.stdout + plain.stderr  # no cell reported as changed

    trusted = run(nbgrader_venv / "dlgrade", "nbgrader", "autograde", course, "mlp")
    assert "alice: 100 / 100" in trusted.stdout
    bob_score = float(re.search(r"bob: ([\d.]+) / 100", trusted.stdout).group(1))
    assert 90 < bob_score < 100  # mlp.linear.backward only

    nbgrader("generate_feedback", "mlp")
    page = html.unescape((course / "feedback/bob/mlp/mlp.html").read_text())
    assert "mlp.linear.backward: partial" in page and "looks transposed" in page
