"""Attacks on nbgrader's trusted path (`dlgrade nbgrader autograde COURSE mlp`): what a submission
in `submitted/<student>/mlp/` names must not resolve outside that folder (links, hard links,
FIFOs, devices, sockets), one student's bad files must not stop the class, and what the trusted
process reads and builds from a notebook is bounded. One course is generated and graded once for
the module: a baseline run (alice, who hands in the answer key, and stub, the release notebook),
then one run with every attacker beside them; each test reads one attacker's outcome."""
import html
import json
import os
import re
import shutil
import socket
import stat
import time
from pathlib import Path

import pytest

from grader import engine
from grader.release.nbgrader.intake import (MAX_CELLS, MAX_MODULE_BYTES, MAX_NOTEBOOK_BYTES, extract_modules,
                                            parse_notebook, read_member)
from grader.student.manifest import questions
from tests.conftest import DATA_FILES, ROOT, data_dir, dlgrade
from tests.grader.test_nbgrader import _answered, _env, _forget_scores, _nbgrader, _scores

nbgrader = pytest.importorskip("nbgrader")

HONEST = ["alice", "stub"]


def _stub_plus(release, *cells):
    nb = json.loads(json.dumps(release))
    nb["cells"][2:2] = [{"cell_type": "code", "execution_count": None, "id": f"x{k}", "metadata": {}, "outputs": [],
                         "source": source} for k, source in enumerate(cells)]
    return json.dumps(nb)


def _appending_cells(total_bytes, cell_bytes=4000, module="layers.py"):
    """A notebook of `%%writefile -a` cells (quadratic to extract by repeated string concatenation)."""
    cell = {"cell_type": "code", "metadata": {}, "source": f"%%writefile -a {module}\n" + "#" * cell_bytes + "\n"}
    n = total_bytes // len(json.dumps(cell)) + 1
    return json.dumps({"cells": [cell] * n, "nbformat": 4, "nbformat_minor": 5, "metadata": {}})


def _attacks(course: Path, release: dict) -> dict:
    """{student: a function that fills submitted/<student>/mlp/}, one per attack."""
    stub = json.dumps(release)
    source_nb = course / "source/mlp/mlp.ipynb"

    def write(name, text):
        return lambda d: (d / name).write_text(text)

    def link(name, target):
        return lambda d: os.symlink(target, d / name)

    def with_stub(fill):
        return lambda d: ((d / "mlp.ipynb").write_text(stub), fill(d))

    return {
        # links: the instructor's source notebook, a classmate's notebook, the answer key's weights
        "fb_src_link": link("mlp.ipynb", "../../../source/mlp/mlp.ipynb"),
        "peer_link": link("mlp.ipynb", "../../alice/mlp/mlp.ipynb"),
        "key_weights": with_stub(link("mlp_weights.npz", str(ROOT / "solutions/mlp/mlp_weights.npz"))),
        "fb_hard_link": lambda d: os.link(source_nb, d / "mlp.ipynb"),
        # what `nbgrader collect` (shutil.copytree, following links as the instructor) makes of a
        # link to the source notebook in the exchange: a plain copy of it
        "collected_src": lambda d: shutil.copyfile(source_nb, d / "mlp.ipynb"),
        "folder_link": None,  # submitted/folder_link/mlp -> ../alice/mlp (made below)
        "other_nb": with_stub(link("answers.ipynb", "../../../source/mlp/mlp.ipynb")),
        "stamp_link": with_stub(link("timestamp.txt", "../../../source/mlp/mlp.ipynb")),
        # special files, read without end or never answering
        "zero": link("mlp.ipynb", "/dev/zero"),
        "fifo": lambda d: os.mkfifo(d / "mlp.ipynb"),
        "socket_weights": with_stub(lambda d: os.mknod(d / "mlp_weights.npz", 0o600 | stat.S_IFSOCK)),
        # notebooks that stopped the run for everyone
        "junk": write("mlp.ipynb", "this is not a notebook {"),
        "deep": write("mlp.ipynb", '{"cells": ' + "[" * 100_000 + "]" * 100_000 + "}"),
        "bad_stamp": with_stub(write("timestamp.txt", "yesterday, honest")),
        "odd_cells": write("mlp.ipynb", _stub_plus(release, [1, 2], {"a": 1}, "%%writefile -a layers.py\nx = '\ud800'\n")),
        # bounds: bytes, cells
        "huge": write("mlp.ipynb", _appending_cells(MAX_NOTEBOOK_BYTES + (1 << 20))),
        "many_cells": write("mlp.ipynb", json.dumps({"cells": [{"cell_type": "markdown", "metadata": {}, "source": ""}]
                                                              * (MAX_CELLS + 1)})),
    }


REFUSED = {  # student: what the one-line reason says (fb_*: their feedback is generated too)
    "fb_src_link": "mlp.ipynb is a symbolic link", "peer_link": "mlp.ipynb is a symbolic link",
    "key_weights": "mlp_weights.npz is a symbolic link", "fb_hard_link": "mlp.ipynb is a hard link",
    "collected_src": "mlp.ipynb is a copy of the instructor's source notebook",
    "folder_link": "submitted/folder_link/mlp is a symbolic link, not a folder",
    "zero": "mlp.ipynb is a symbolic link", "fifo": "mlp.ipynb is a FIFO",
    "socket_weights": "mlp_weights.npz is a socket", "stamp_link": "timestamp.txt is a symbolic link",
    "junk": "mlp.ipynb is not a notebook (not JSON", "deep": "mlp.ipynb is not a notebook (not JSON: RecursionError)",
    "huge": f"mlp.ipynb is larger than {MAX_NOTEBOOK_BYTES >> 20} MB",
    "many_cells": f"mlp.ipynb has {MAX_CELLS + 1} cells, more than {MAX_CELLS}",
}
GRADED_AS_STUB = ["other_nb", "bad_stamp", "odd_cells"]  # nothing refused; nothing gained either


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    d = data_dir()
    if d is None or not all((d / f).is_file() for f in DATA_FILES):
        pytest.skip("real data not available (set DLGRADE_DATA)")  # alice's weights are evaluated on CIFAR-10
    course = tmp_path_factory.mktemp("attacks") / "course"
    r = dlgrade("release", "mlp", "--nbgrader", course, env=_env())
    assert r.returncode == 0, r.stderr
    _nbgrader(course, "generate_assignment", "mlp")
    source = json.loads((course / "source/mlp/mlp.ipynb").read_text())
    release = json.loads((course / "release/mlp/mlp.ipynb").read_text())
    sub = lambda s: (course / "submitted" / s / "mlp").mkdir(parents=True) or course / "submitted" / s / "mlp"  # noqa: E731
    (sub("alice") / "mlp.ipynb").write_text(json.dumps(_answered(source, release)))
    shutil.copyfile(ROOT / "solutions/mlp/mlp_weights.npz", course / "submitted/alice/mlp/mlp_weights.npz")
    (sub("stub") / "mlp.ipynb").write_text(json.dumps(release))

    r = dlgrade("nbgrader", "autograde", course, "mlp", env=_env(), timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    baseline = _scores(course, HONEST)
    assert baseline["alice"][0] == 100 and baseline["stub"][0] == 0
    _forget_scores(course, HONEST)  # the run with the attackers must write them again

    for student, fill in _attacks(course, release).items():
        if fill is None:
            (course / "submitted" / student).mkdir()
            os.symlink("../alice/mlp", course / "submitted" / student / "mlp")
        else:
            fill(sub(student))
    start = time.monotonic()
    r = dlgrade("nbgrader", "autograde", course, "mlp", env=_env(), timeout=300)
    seconds = time.monotonic() - start
    lines = dict(line.split(": ", 1) for line in r.stdout.splitlines() if ": " in line)
    students = HONEST + list(REFUSED) + GRADED_AS_STUB
    return {"dir": course, "run": r, "seconds": seconds, "lines": lines, "baseline": baseline,
            "scores": _scores(course, students)}


def test_the_run_completes_and_the_others_are_unchanged(course):
    """Every attacker beside them: the run completes, in about the time the honest students take,
    and alice and stub get, cell by cell, what they got alone."""
    r = course["run"]
    assert r.returncode == 1, r.stdout + r.stderr  # 1: some submission could not be graded (DESIGN §4)
    assert "Traceback" not in r.stdout + r.stderr
    assert set(course["lines"]) >= set(HONEST) | set(REFUSED) | set(GRADED_AS_STUB)
    for student in HONEST:
        assert course["scores"][student] == course["baseline"][student], student
    assert course["seconds"] < 240


@pytest.mark.parametrize("student", sorted(REFUSED))
def test_refused_with_its_reason_and_nothing_gained(course, student):
    """A link, hard link, special file, broken or oversized notebook: that student's error, one line
    with the reason; 0 in every grade cell, flagged for a manual look; the feedback notebook says
    why and holds nothing of what the file pointed at."""
    assert course["lines"][student].startswith("0 / 100  (" + REFUSED[student]), course["lines"][student]
    score, cells = course["scores"][student]
    assert score == 0 and cells and set(cells.values()) == {0}
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course['dir']}/gradebook.db") as gb:
        grades = [g for nb in gb.find_submission("mlp", student).notebooks for g in nb.grades]
        asked = {q.replace(".", "-") for q, _, _ in questions("mlp", ROOT)}  # the lesson's answers: graded by hand
        assert grades and all(g.needs_manual_grade and (g.auto_score == 0 or g.name in asked) for g in grades)
        assert asked <= {g.name for g in grades}
    folder = course["dir"] / "autograded" / student / "mlp"
    assert sorted(p.name for p in folder.iterdir()) == ["mlp.ipynb"]
    feedback = json.loads((folder / "mlp.ipynb").read_text())
    assert [c["source"] for c in feedback["cells"]][0].startswith("**Not graded**: " + REFUSED[student][:20])
    assert "SOLUTION" not in (folder / "mlp.ipynb").read_text()
    assert json.loads((course["dir"] / "dlgrade_reports" / student / "mlp/dlgrade_report.json").read_text())["error"]


@pytest.mark.parametrize("student", GRADED_AS_STUB)
def test_graded_as_what_it_is(course, student):
    """An extra notebook linked to the solution is not read; a timestamp that is no time is ignored
    (nbgrader's exchange writes it); cells whose source is not text, and a lone surrogate (JSON
    allows it, UTF-8 does not) in a module, are data: the submission is graded and gains nothing."""
    assert course["lines"][student] == "0 / 100", course["lines"][student]
    assert course["scores"][student] == course["baseline"]["stub"]
    assert sorted(p.name for p in (course["dir"] / "autograded" / student / "mlp").iterdir()) == ["mlp.ipynb"]


def _solution_lines(course) -> set:
    """Lines of the answer key's solution regions, as the source notebook holds them."""
    lines, inside = set(), False
    for cell in json.loads((course / "source/mlp/mlp.ipynb").read_text())["cells"]:
        for line in cell["source"].splitlines():
            inside = (inside or "### BEGIN SOLUTION" in line) and "### END SOLUTION" not in line
            if inside and len(line.strip()) > 25:
                lines.add(line.strip())
    return lines


def test_feedback_hands_back_no_solution_and_no_instructor_report(course):
    """`nbgrader generate_feedback` copies autograded/<student>/mlp/ whole: the student gets the
    feedback page only, never the source notebook a link named, nor the instructor's report with
    hidden items' details."""
    solution = _solution_lines(course["dir"])
    assert len(solution) > 20
    _nbgrader(course["dir"], "generate_feedback", "mlp", "--student", "fb_*")  # one call: nbgrader is slow to start
    for student in ("fb_src_link", "fb_hard_link"):
        folder = course["dir"] / "feedback" / student / "mlp"
        assert sorted(p.name for p in folder.iterdir()) == ["mlp.html"], student
        page = html.unescape(re.sub(r"<[^>]+>", "", (folder / "mlp.html").read_text()))
        assert "Not graded: mlp.ipynb is a" in page and not [line for line in solution if line in page], student
    assert (course["dir"] / "dlgrade_reports/alice/mlp/dlgrade_report.json").is_file()


# --------------------------------------------------------------------------- the reads themselves
def _special(tmp_path, kind):
    path = tmp_path / "f"
    target = tmp_path / "target"
    target.write_bytes(b"secret")
    if kind == "symlink":
        os.symlink(target, path)
    elif kind == "hard link":
        os.link(target, path)
    elif kind == "FIFO":
        os.mkfifo(path)
    elif kind == "socket":
        with socket.socket(socket.AF_UNIX) as s:
            s.bind("f")  # relative: the test runs in tmp_path (a socket's path is short)
    elif kind == "folder":
        path.mkdir()
    return path


@pytest.mark.parametrize("kind", ["symlink", "hard link", "FIFO", "socket", "folder"])
def test_read_member_refuses_all_but_a_regular_file_with_one_name(tmp_path, kind, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _special(tmp_path, kind)
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(engine.GradeError, match=r"^f is a"):
            read_member(fd, "f", 100)
        if kind != "hard link":  # the target of a hard link is one of its names
            assert read_member(fd, "target", 100) == b"secret"
        assert read_member(fd, "absent", 100) is None
    finally:
        os.close(fd)


def test_read_member_reads_at_most_its_cap(tmp_path):
    (tmp_path / "f").write_bytes(b"x" * 101)
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert read_member(fd, "f", 101) == b"x" * 101
        with pytest.raises(engine.GradeError, match="larger than 100 bytes"):
            read_member(fd, "f", 100)
    finally:
        os.close(fd)


def test_extraction_is_linear(monkeypatch):
    """The issue's notebook of `%%writefile -a` cells cost 55 CPU-seconds at 19 MB: each append
    copied the module so far (14 CPU-seconds here for 17,600 cells of 1 kB). With the module cap
    lifted, 20,000 such cells (20 MB) now take a small fraction of a second."""
    import grader.release.nbgrader.intake
    monkeypatch.setattr(grader.release.nbgrader.intake, "MAX_MODULE_BYTES", 64 << 20)
    body = "#" * 1000
    nb = {"cells": [{"cell_type": "code", "source": f"%%writefile -a layers.py\n{body}"}] * 20_000}
    start = time.process_time()
    files = extract_modules(nb, {"layers.py"})
    assert time.process_time() - start < 2
    assert len(files["layers.py"]) == 20_000 * (len(body) + 1)


def test_modules_are_capped():
    """The largest module the notebook may write is extracted; one byte more is the submission's
    error, said in one line."""
    cells = 8 * MAX_CELLS // 10
    body = "#" * (MAX_MODULE_BYTES // cells - 1)
    nb = {"cells": [{"cell_type": "code", "source": f"%%writefile -a layers.py\n{body}\n"}] * cells}
    assert len(extract_modules(nb, {"layers.py"})["layers.py"]) == cells * (len(body) + 1) <= MAX_MODULE_BYTES
    nb["cells"].append({"cell_type": "code", "source": "%%writefile -a layers.py\n" + "#" * MAX_MODULE_BYTES})
    with pytest.raises(engine.GradeError, match=r"^layers.py, as the notebook's %%writefile cells write it, is larger"):
        extract_modules(nb, {"layers.py"})
    nb["cells"].append({"cell_type": "code", "source": "%%writefile layers.py\nx = 1"})  # IPython starts it again
    assert extract_modules(nb, {"layers.py"}) == {"layers.py": "x = 1\n"}


@pytest.mark.parametrize("data, why", [
    (b"\xff\xfe{}", "not JSON: UnicodeDecodeError"), (b"[]", "no list of cells"),
    (b'{"cells": {}}', "no list of cells"), (b'{"cells": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "RecursionError"),
    (json.dumps({"cells": [{}] * (MAX_CELLS + 1)}).encode(), "more than"),
    (b" " * (MAX_NOTEBOOK_BYTES + 1), "larger than")], ids=["utf8", "list", "cells-dict", "deep", "cells", "bytes"])
def test_parse_notebook_says_what_is_wrong(data, why):
    with pytest.raises(engine.GradeError, match=why):
        parse_notebook(data, "mlp.ipynb")
