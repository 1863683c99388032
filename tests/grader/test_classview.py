"""The class view: `dlgrade grade ... -o OUTDIR` writes grades.csv, per-submission files and summary.html."""
import csv
import io
import json
import shutil
import zipfile

import matplotlib.image
import pytest

from tests.conftest import ROOT, dlgrade

ITEMS = ("--item", "mlp.linear", "--item", "mlp.optim.sgd", "--item", "mlp.optim.sgd.weight_decay")


@pytest.fixture(scope="module")
def class_view(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("class")
    good = tmp / "alice"
    shutil.copytree(ROOT / "solutions/mlp", good, symlinks=False, ignore=shutil.ignore_patterns("*.npz", "*.txt"))
    bad = tmp / "bob"
    shutil.copytree(ROOT / "assignments/mlp", bad)
    shutil.copyfile(ROOT / "solutions/mlp/optim.py", bad / "optim.py")
    with open(bad / "optim.py", "a") as f:
        f.write("\nOptimizer._grad = lambda self, p, g: g  # ignores weight decay\n")
    with zipfile.ZipFile(tmp / "carol.zip", "w") as zf:  # a zip with a learning curve of its own
        for p in (ROOT / "solutions/mlp").glob("*.py"):
            zf.write(p, p.name)
        rows = [{"epoch": e, "loss": 2.0 / e, "val_acc": 0.3 + 0.02 * e} for e in range(1, 8)]
        zf.writestr("mlp_curve.json", json.dumps({"epochs": rows}))
    out = tmp / "out"
    r = dlgrade("grade", "mlp", good, bad, tmp / "carol.zip", tmp / "missing", *ITEMS, "-o", out)
    assert r.returncode == 1 and "error:" in r.stderr and "missing" in r.stderr  # one could not be graded
    return out


def test_grades_csv_marks_ungraded_submissions(class_view):
    rows = list(csv.DictReader(io.StringIO((class_view / "grades.csv").read_text())))
    assert [r["id"] for r in rows] == ["alice", "bob", "carol", "missing"]
    assert rows[0]["status"] == "graded" and float(rows[0]["score"]) == float(rows[0]["max_score"]) > 0
    assert rows[1]["status"] == "graded" and float(rows[1]["mlp.optim.sgd.weight_decay"]) < 1.25
    assert float(rows[1]["mlp.linear.forward"]) == 0
    assert rows[3]["status"].startswith("not graded:") and rows[3]["score"] == "" and rows[3]["mlp.linear.forward"] == ""


def test_per_submission_json_and_feedback_hide_hidden_details(class_view):
    report = json.loads((class_view / "bob/report.json").read_text())
    wd = next(i for i in report["items"] if i["id"] == "mlp.optim.sgd.weight_decay")
    assert "expected" in wd["output"]  # the instructor's copy has the details
    feedback = (class_view / "bob/feedback.txt").read_text()
    section = feedback[feedback.index("mlp.optim.sgd.weight_decay (failed"):]
    assert "hidden item" in section and "expected" not in section and "index" not in section


def test_figures_exist_and_are_images(class_view):
    page = (class_view / "summary.html").read_text()
    for png in ("figures/distribution.png", "figures/pass_rates.png", "figures/mlp_curve.png"):
        assert f'src="{png}"' in page
        assert matplotlib.image.imread(class_view / png).shape[0] > 200
    for sid in ("alice", "bob", "carol"):
        assert matplotlib.image.imread(class_view / sid / "scores.png").shape[0] > 200
    assert "not graded" in page


def test_item_figures_are_saved_beside_the_feedback_and_listed(tmp_path):
    import numpy as np

    from grader.results import ItemResult, Report
    from grader.items.checks import CheckResult
    from grader.reports.classview import write_submission
    from grader.reports.figures import Figure

    def bars(fig):
        fig.add_subplot().bar(range(3), [1, 2, 3])

    def broken(fig):
        raise ValueError("no data")

    checks = [CheckResult("test accuracy", True, "test accuracy 0.41",
                          figures=(Figure("toy.bars.png", "three bars", bars), Figure("toy.broken.png", "x", broken)))]
    report = Report("mlp", "alice", [ItemResult("mlp.train.accuracy", 11, 11, "passed", "public", "ok", checks)])
    folder = write_submission(report, tmp_path)
    image = matplotlib.image.imread(folder / "toy.bars.png")
    assert image.ndim == 3 and image.shape[0] > 100 and np.ptp(image) > 0
    text = (folder / "feedback.txt").read_text()
    assert "toy.bars.png: three bars (mlp.train.accuracy)" in text
    assert "toy.broken.png: could not be drawn (ValueError: no data)" in text
    assert not (folder / "toy.broken.png").exists() and json.loads((folder / "report.json").read_text())["score"] == 11


def test_resumed_feedback_keeps_its_figure_list(tmp_path):
    """A report restored by --resume has no figures to draw: its feedback.txt, written again
    for the class view, keeps listing the figures the first run saved beside it."""
    from grader.results import ItemResult, Report
    from grader.items.checks import CheckResult
    from grader.reports.classview import write_submission
    from grader.reports.figures import Figure

    def bars(fig):
        fig.add_subplot().bar(range(3), [1, 2, 3])

    first = [CheckResult("test accuracy", True, "ok", figures=(Figure("toy.bars.png", "three bars", bars),))]
    folder = write_submission(Report("mlp", "alice", [ItemResult("mlp.x", 1, 1, "passed", "public", "ok", first)]), tmp_path)
    restored = Report("mlp", "alice", [ItemResult("mlp.x", 1, 1, "passed", "public", "ok", [CheckResult("test accuracy", True, "ok")])])
    write_submission(restored, tmp_path)
    assert "toy.bars.png: three bars (mlp.x)" in (folder / "feedback.txt").read_text()
    (folder / "toy.bars.png").unlink()
    write_submission(restored, tmp_path)
    assert "Figures" not in (folder / "feedback.txt").read_text()


# --------------------------------------------------------------------------- issue 17
def _zip_of_sources(path, folder=ROOT / "solutions/mlp"):
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for p in sorted(folder.glob("*.py")):
            zf.writestr(p.name, p.resolve().read_bytes())
    return path


def test_lms_export_layout_gets_the_students_folder_names(tmp_path):
    """`alice/submission.zip`, `bob/submission.zip`, `carol/mlp/`, `dave/mlp/` (as an LMS exports
    them) are `alice`, `bob`, `carol`, `dave` in the class view, not `submission`, `submission-2`."""
    subs = [_zip_of_sources(tmp_path / "export" / name / "submission.zip") for name in ("alice", "bob")]
    for name in ("carol", "dave"):
        shutil.copytree(ROOT / "solutions/mlp", tmp_path / "export" / name / "mlp", ignore=shutil.ignore_patterns("*.npz"))
        subs.append(tmp_path / "export" / name / "mlp")
    out = tmp_path / "out"
    r = dlgrade("grade", "mlp", *subs, "--item", "mlp.linear.forward", "-o", out)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO((out / "grades.csv").read_text())))
    assert [row["id"] for row in rows] == ["alice", "bob", "carol", "dave"]
    assert all((out / sid / "feedback.txt").is_file() for sid in ("alice", "bob", "carol", "dave"))


@pytest.mark.parametrize("paths, expected", [
    (["a/alice/submission.zip", "a/bob/submission.zip"], ["alice", "bob"]),
    (["alice/submission.zip"], ["alice"]),
    (["x/alice/submission.zip", "y/alice/submission.zip"], ["alice", "alice-2"]),
    (["alice/mlp", "bob/mlp/", "carol.zip"], ["alice", "bob", "carol"]),
    (["alice.zip", "alice"], ["alice", "alice-2"]),
    (["o'brien x/submission.zip", "../submission.zip"], ["o_brien_x", "submission"]),
], ids=["lms-zips", "one-generic", "same-parent-name", "lms-folders", "zip-and-folder", "unsafe-names"])
def test_ids_are_unique_file_name_safe_and_name_the_student(paths, expected):
    from grader.results import Report
    from grader.reports.report import ids
    got = ids([Report("mlp", p, []) for p in paths])
    assert got == expected and len(set(got)) == len(got)


def test_one_gradebook_csv_for_format_csv_and_the_class_view(tmp_path):
    """`--format csv -o file.csv` and OUTDIR/grades.csv are the same gradebook, byte for byte."""
    subs = [ROOT / "solutions/mlp", ROOT / "assignments/mlp", tmp_path / "missing"]
    a = dlgrade("grade", "mlp", *subs, "--item", "mlp.linear.forward", "--format", "csv", "-o", tmp_path / "g.csv")
    b = dlgrade("grade", "mlp", *subs, "--item", "mlp.linear.forward", "-o", tmp_path / "out")
    assert a.returncode == b.returncode == 1
    text = (tmp_path / "g.csv").read_text()
    assert text == (tmp_path / "out/grades.csv").read_text()
    assert text.splitlines()[0] == "id,submission,status,score,max_score,mlp.linear.forward"
