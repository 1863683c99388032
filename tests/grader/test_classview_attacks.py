"""One student stops the whole class (issue 18, class 4): what a submission names or holds
reaches the class view (`dlgrade grade ... -o OUTDIR`) only as data. Each attack runs the real
command on an honest submission beside the attacker's (the released stub, which earns nothing):
the run completes (exit 0), the attacker gains no point, the honest row is unchanged, and
nothing is written outside OUTDIR."""
import csv
import io
import json
import os
import shutil
import zipfile

import pytest

from tests.conftest import ROOT, dlgrade

ITEM = ("--item", "mlp.linear.forward")
CURVE = "mlp_curve.json"
HONEST_CURVE = {"epochs": [{"epoch": e, "loss": 2.0 / e, "val_acc": 0.3 + 0.02 * e} for e in range(1, 6)]}


def _honest(folder):
    shutil.copytree(ROOT / "solutions/mlp", folder, ignore=shutil.ignore_patterns("*.npz", "*.txt", "grading.py",
                                                                                  "*.json"))
    (folder / CURVE).write_text(json.dumps(HONEST_CURVE))
    return folder


def _stub(folder):
    shutil.copytree(ROOT / "assignments/mlp", folder, ignore=shutil.ignore_patterns("public_cases.*"))
    return folder


def _zip(folder, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for p in sorted(folder.iterdir()):
            zf.write(p, p.name)
    return path


def _rows(out):
    return {r["submission"]: r for r in csv.DictReader(io.StringIO((out / "grades.csv").read_text()))}


def _grade(tmp_path, *subs):
    """Run the class view on the honest submission and `subs`; check what every attack must keep."""
    honest = _honest(tmp_path / "honest")
    before = set(tmp_path.iterdir()) | {tmp_path / "out"}
    out = tmp_path / "out"
    r = dlgrade("grade", "mlp", honest, *subs, *ITEM, "-o", out, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    assert set(tmp_path.iterdir()) == before  # nothing written beside OUTDIR
    rows = _rows(out)
    assert rows[str(honest)]["status"] == "graded" and rows[str(honest)]["score"] == "2"  # unchanged: full marks
    for s in subs:
        assert rows[str(s)]["status"] == "graded" and float(rows[str(s)]["score"]) == 0  # no point gained
    assert (out / "summary.html").is_file() and (out / rows[str(honest)]["id"] / "scores.png").is_file()
    return out, rows


def _curve_drawn(out):
    """The learning-curve figure is drawn with the honest curve: the attacker's never stops it."""
    assert (out / "figures/mlp_curve.png").is_file()
    assert 'src="figures/mlp_curve.png"' in (out / "summary.html").read_text()


# --------------------------------------------------------------------------- learning curves
def _attackers(tmp_path, contents):
    subs = []
    for k, content in enumerate(contents):
        subs.append(_stub(tmp_path / f"mallory{k}"))
        (subs[-1] / CURVE).write_text(content)
    return subs


def test_curve_of_100000_nested_lists_is_left_out(tmp_path):
    out, _ = _grade(tmp_path, *_attackers(tmp_path, ['{"epochs": ' + "[" * 100_000 + "]" * 100_000 + "}"]))
    _curve_drawn(out)


def test_curve_values_out_of_range_are_left_out(tmp_path):
    """±1e308 (finite, but matplotlib cannot lay out its axis) and a 5000-digit integer."""
    out, _ = _grade(tmp_path, *_attackers(tmp_path, [
        json.dumps({"epochs": [{"epoch": 1, "loss": 1e308}, {"epoch": 2, "loss": -1e308}]}),
        '{"epochs": [{"epoch": 1, "loss": ' + "9" * 5000 + "}]}"]))
    _curve_drawn(out)


def test_curve_that_is_not_a_regular_file_is_never_opened(tmp_path):
    """A FIFO would block the read forever, a link to /dev/zero fill memory: neither is opened."""
    fifo, zero = _stub(tmp_path / "fifo"), _stub(tmp_path / "zero")
    os.mkfifo(fifo / CURVE)
    os.symlink("/dev/zero", zero / CURVE)
    out, _ = _grade(tmp_path, fifo, zero)
    _curve_drawn(out)


def test_curve_reading_is_bounded_in_bytes_and_depth(tmp_path):
    """The reader itself: a file over the size cap is refused before parsing; no recursion."""
    from grader.student import curves
    big, nested, good = tmp_path / "big.json", tmp_path / "nested.json", tmp_path / "good.json"
    big.write_text(" " * (curves.MAX_BYTES + 1) + json.dumps(HONEST_CURVE))
    nested.write_text('{"epochs": ' + "[" * 100_000 + "]" * 100_000 + "}")
    good.write_text(json.dumps(HONEST_CURVE))
    for path in (big, nested):
        with pytest.raises(curves.CurveError):
            curves.load(path)
    assert curves.load(good)[0]["loss"] == 2.0


# --------------------------------------------------------------------------- names in figures
def test_mathtext_in_a_submission_name_is_shown_as_written(tmp_path):
    """`x$\\cmd$` (an unknown command) and `$x^{x^{...}}$` 60 deep (RecursionError in the parser)."""
    subs = [_stub(tmp_path / "subs" / name) for name in ("x$\\cmd$", "$" + "x^{" * 60 + "}" * 60 + "$")]
    out, rows = _grade(tmp_path, *subs)
    for s in subs:
        assert (out / rows[str(s)]["id"] / "scores.png").is_file()


# --------------------------------------------------------------------------- ids and paths
def test_zips_named_like_the_class_views_outputs_get_their_own_folders(tmp_path):
    stub = _stub(tmp_path / "stub")
    subs = [_zip(stub, tmp_path / "subs" / f"{name}.zip")
            for name in ("grades.csv", "summary.html", "figures", "results", "grades.txt")]
    shutil.rmtree(stub)
    out, rows = _grade(tmp_path, *subs)
    assert (out / "grades.csv").is_file() and (out / "summary.html").is_file() and (out / "grades.txt").is_file()
    assert all(p.suffix == ".png" for p in (out / "figures").iterdir())
    assert all(p.suffix == ".json" for p in (out / "results").iterdir())
    for s in subs:
        sid = rows[str(s)]["id"]
        assert sid.endswith("-2")
        assert json.loads((out / sid / "report.json").read_text())["submission"] == str(s)


def test_names_that_differ_only_in_case_never_share_a_folder(tmp_path):
    """`Alice.zip`, `alice.zip` and `alice-2.zip`: distinct ids even on a case-insensitive file
    system (macOS, Windows), each folder holding its own submission's report."""
    stub = _stub(tmp_path / "stub")
    subs = [_zip(stub, tmp_path / "subs" / f"{n}.zip") for n in ("Alice", "alice", "alice-2")]
    shutil.rmtree(stub)
    out, rows = _grade(tmp_path, *subs)
    sids = [rows[str(s)]["id"] for s in subs]
    assert len({s.casefold() for s in sids}) == 3
    for s, sid in zip(subs, sids):
        assert json.loads((out / sid / "report.json").read_text())["submission"] == str(s)


def test_dot_names_stay_inside_outdir(tmp_path):
    """`...zip`, `..zip` and `.zip`: ids never `.`, `..`, empty or hidden."""
    stub = _stub(tmp_path / "stub")
    subs = [_zip(stub, tmp_path / "subs" / n) for n in ("...zip", "..zip", ".zip")]
    shutil.rmtree(stub)
    out, rows = _grade(tmp_path, *subs)
    for s in subs:
        sid = rows[str(s)]["id"]
        assert sid and not sid.startswith(".") and (out / sid).resolve().parent == out.resolve()


def test_a_submission_folder_outside_outdir_is_refused(tmp_path):
    """Whatever id reaches it, the class view writes only directly inside OUTDIR."""
    from grader.results import Report
    from grader.reports.classview import write_submission
    out = tmp_path / "a" / "out"
    out.mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", out / "linked")
    for sid in ("..", ".", "../x", "/tmp", "grades.csv", "Summary.HTML"):
        with pytest.raises(ValueError):
            write_submission(Report("mlp", "x", []), out, sid)
    write_submission(Report("mlp", "x", []), out, "linked")  # the link is replaced, never written through
    assert sorted(os.listdir(tmp_path / "a")) == ["out"] and not list((tmp_path / "elsewhere").iterdir())
    assert not (out / "linked").is_symlink() and (out / "linked/report.json").is_file()


def test_a_submission_that_fails_to_report_is_that_submissions_problem(tmp_path):
    """A report whose chart cannot be drawn costs that chart, noted in its feedback and its row;
    the other submissions' files and the page are written."""
    from grader.results import ItemResult, Report
    from grader.reports.classview import write
    good = Report("mlp", "good", [ItemResult("mlp.x", 1.0, 1.0, "passed", "public", "")])
    bad = Report("mlp", "bad", [ItemResult("mlp.x", 0.0, 1.0, "no such status", "public", "")])
    problems = {}
    write([good, bad], tmp_path, problems=problems)
    assert (tmp_path / "good/scores.png").is_file() and not (tmp_path / "bad/scores.png").exists()
    assert "scores.png could not be drawn" in (tmp_path / "bad/feedback.txt").read_text()
    assert list(problems) == ["bad"] and "could not be drawn" in (tmp_path / "summary.html").read_text()


# --------------------------------------------------------------------------- deep folders
@pytest.fixture
def deep(tmp_path):
    """A function making `folder/d/d/.../d` 1,100 levels deep (os.makedirs and shutil.rmtree
    recurse, so both are done here by loops), removed after the test."""
    made = []

    def make(folder, levels=1100):
        path = str(folder)
        for _ in range(levels):
            path = os.path.join(path, "d")
            os.mkdir(path)
            made.append(path)
        return path
    yield make
    for path in reversed(made):
        for name in os.listdir(path):
            os.unlink(os.path.join(path, name))
        os.rmdir(path)


def test_the_class_views_walk_of_a_deep_folder_is_bounded(tmp_path, deep):
    """read_curves looks a bounded number of folders deep, without recursion."""
    from grader.engine import weights_files
    from grader.reports.classview import read_curves
    weights = weights_files("mlp")
    bad = _stub(tmp_path / "mallory")
    deepest = deep(bad)
    with open(os.path.join(deepest, CURVE), "w") as f:
        json.dump(HONEST_CURVE, f)
    assert read_curves(bad, weights) == {}
    (bad / "d" / CURVE).write_text(json.dumps(HONEST_CURVE))
    assert len(read_curves(bad, weights)[CURVE]) == 5


def test_a_folder_1100_levels_deep_is_graded_with_the_others(tmp_path, deep):
    bad = _stub(tmp_path / "mallory")
    deep(bad)
    _grade(tmp_path, bad)


def test_names_that_are_formulas_or_escape_codes_stay_text(tmp_path):
    """A submission named `=HYPERLINK(...)` is text in grades.csv (a leading quote), and one whose
    name holds terminal escape codes is printed with them escaped."""
    import csv
    _stub(tmp_path / "=HYPERLINK(\"http:__x\";\"a\")")
    (tmp_path / "bob\x1b[2Jcleared").write_bytes(b"not a zip")
    _honest(tmp_path / "honest")
    r = dlgrade("grade", "mlp", "honest", "=HYPERLINK(\"http:__x\";\"a\")", "bob\x1b[2Jcleared", *ITEM,
                "-o", "out", timeout=120, cwd=tmp_path)
    assert r.returncode == 1  # the file that is no zip cannot be graded
    assert "\x1b" not in r.stderr and "bob\\x1b[2Jcleared" in r.stderr
    rows = list(csv.reader((tmp_path / "out" / "grades.csv").open()))
    cells = [c for row in rows[1:] for c in row[:3]]
    assert "'=HYPERLINK(\"http:__x\";\"a\")" in cells
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@"))]
