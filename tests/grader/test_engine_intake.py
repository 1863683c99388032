"""grader.engine.intake and grader.engine.run: submissions taken in once (folders and zips),
graded, and the results --resume reuses."""
import json
import shutil
import zipfile

import pytest

from grader import engine
from grader.engine import run as class_run_module
from tests.conftest import ROOT, dlgrade

KEY = ROOT / "solutions" / "linear"
ITEM = "linear.logistic.sigmoid"
OPTS = engine.Options(salt="intake-test", sandbox=False)


def _zip(folder, path, prefix="work/linear/"):
    with zipfile.ZipFile(path, "w") as zf:
        for f in sorted(folder.glob("*.py")):
            zf.write(f, prefix + f.name)
    return path


@pytest.fixture
def subs(tmp_path):
    """A good zip (the answer key two folders deep), a corrupt one and an empty folder."""
    good = _zip(KEY, tmp_path / "good.zip")
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    empty = tmp_path / "empty"
    empty.mkdir()
    return good, bad, empty


def test_a_good_zip_grades_and_bad_ones_say_why(subs):
    good, bad, empty = subs
    with engine.class_run("linear", [good, bad, empty], opts=OPTS, only=[ITEM], salt_id="id") as run:
        assert run.entries[0].folder.name == "linear" and not run.entries[0].error  # descended into work/linear
        assert run.entries[1].folder is None and run.entries[1].error == "not a folder or a .zip file"
        assert run.entries[2].error == engine.EMPTY
        reports = run.grade(jobs=1)
    assert [r.submission for r in reports] == [str(good), str(bad), str(empty)]
    assert reports[0].score == reports[0].max_score > 0 and not reports[0].error
    assert reports[1].error == "not a folder or a .zip file" and reports[1].score == 0
    assert [i.output for i in reports[1].items] == [engine.NOT_GRADED]
    assert {r.salt_id for r in reports} == {"id"}


def test_the_command_gives_a_bad_zip_its_one_line_error(subs):
    good, bad, _ = subs
    result = dlgrade("grade", "linear", good, bad, "--item", ITEM, "--format", "json")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == f"error: {bad}: not a folder or a .zip file"
    assert "Traceback" not in result.stderr
    graded = json.loads(result.stdout)
    assert graded[0]["score"] == graded[0]["max_score"] and graded[1]["error"]


def test_zip_members_outside_the_folder_are_not_written(tmp_path):
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("../escaped.py", "x = 1")
        zf.writestr("linear/logistic.py", "x = 2")
    folder = engine.unpack(path, tmp_path / "out")
    assert not (tmp_path / "escaped.py").exists() and (folder / "logistic.py").is_file()


def test_warnings_name_missing_modules_and_syntax_errors(tmp_path):
    sub = tmp_path / "sub"
    shutil.copytree(KEY, sub)
    (sub / "logistic.py").unlink()
    (sub / "linear.py").write_text("def f(:\n")
    with engine.class_run("linear", [sub], opts=OPTS) as run:
        lines = [line for _, line in run.warnings]
    assert any(line.startswith("linear.py:1: SyntaxError") for line in lines), lines
    assert any(line.startswith("logistic.py is missing (") for line in lines), lines


def test_result_keys_are_per_path_and_readable(tmp_path):
    a, b = tmp_path / "x" / "alice.zip", tmp_path / "y" / "alice.zip"
    assert class_run_module.result_key(a) != class_run_module.result_key(b)
    assert class_run_module.result_key(a).startswith("alice.zip-")
    assert class_run_module.result_key(tmp_path / "a b;c").startswith("a_b_c-")


def test_resume_reuses_a_result_only_while_nothing_changed(tmp_path):
    sub, out = tmp_path / "sub", tmp_path / "out"
    shutil.copytree(KEY, sub)
    grade = dict(opts=OPTS, only=[ITEM], salt_id="run-1", outdir=out)
    with engine.class_run("linear", [sub], **grade) as run:
        first = run.grade()[0]
    saved = json.loads(next((out / engine.RESULTS).glob("*.json")).read_text())
    assert saved["items"] == [ITEM] and saved["salt_id"] == "run-1"
    with engine.class_run("linear", [sub], resume=True, **grade) as run:
        assert run.todo == [] and run.size == 0
        again = run.grade()[0]
    assert again.to_dict() == first.to_dict()
    with engine.class_run("linear", [sub], resume=False, **grade) as run:
        assert run.todo == [0]  # without --resume everything is graded
    changes = {"salt_id": dict(grade, salt_id="run-2"),
               "options": dict(grade, opts=engine.Options(salt="intake-test", sandbox=False, timeout=5)),
               "items": dict(grade, only=[ITEM, "linear.logistic.mse_loss"])}
    for what, kwargs in changes.items():
        with engine.class_run("linear", [sub], resume=True, **kwargs) as run:
            assert run.todo == [0], what
    (sub / "logistic.py").write_text((sub / "logistic.py").read_text() + "\n# changed\n")
    with engine.class_run("linear", [sub], resume=True, **grade) as run:
        assert run.todo == [0], "content"


def test_pending_rows_mark_what_is_not_finished(tmp_path):
    with engine.class_run("linear", [KEY, KEY], opts=OPTS, only=[ITEM]) as run:
        so_far = []
        run.grade(on_report=lambda k, r, rows: so_far.append([row.error for row in rows]))
    assert so_far[0].count(engine.PENDING) == 1 and so_far[-1] == ["", ""]
