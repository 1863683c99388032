"""Nothing a submission names resolves outside its own folder (issue 18.2): a submission path
that is a link (to the answer key, to a classmate's folder) is not graded, with one line saying
why; links inside a submission are never followed (tests/grader/test_grade_input.py); the answer
keys' own links between assignments still work.

Hard links are not refused here: a file's link count cannot tell the copy from the original (a
hard link made anywhere to the answer key would make the answer key itself look like one), and
no route a student has to a grading machine's folders (zips, Gradescope uploads) makes one.
nbgrader's exchange is the exception, where the trusted path refuses them (test_nbgrader_attacks)."""
import json

from tests.conftest import ROOT, dlgrade


def _graded(result):
    return json.loads(result.stdout)


def test_a_submission_path_that_links_to_the_answer_key_is_not_graded(tmp_path):
    link = tmp_path / "alice"
    link.symlink_to(ROOT / "solutions" / "linear")
    result = dlgrade("grade", "linear", link, "--format", "json", "--item", "linear.logistic")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == \
        f"error: {link}: a symbolic link: name the folder or .zip itself (a link is never followed)"
    assert _graded(result)["score"] == 0


def test_a_copy_grades_and_the_answer_keys_links_are_followed(tmp_path):
    folder = tmp_path / "carol"
    folder.mkdir()
    for name in ("logistic.py", "linear.py"):
        (folder / name).write_bytes((ROOT / "solutions" / "linear" / name).read_bytes())
    copy = dlgrade("grade", "linear", folder, "--format", "json", "--item", "linear.logistic")
    assert copy.returncode == 0 and _graded(copy)["score"] == _graded(copy)["max_score"] > 0
    key = dlgrade("grade", "cnn", "solutions/cnn", "--format", "json", "--item", "cnn.conv.forward")
    assert key.returncode == 0 and _graded(key)["score"] == _graded(key)["max_score"]  # layers.py -> ../mlp
