"""`dlgrade grade ... --roster roster.csv`: which student each submission is, the check of
students with no submission and submissions with no student, and the LMS gradebook exports.

The exports follow the formats' documented column layouts:
- Canvas's gradebook import: `Student, ID, SIS User ID, SIS Login ID, Section`, then one
  column per assignment (a new name creates an assignment), a `Points Possible` second row as
  Canvas's own export writes it, then one row per student
  (https://teaching.resources.osu.edu/toolsets/carmencanvas/guides/calculating-final-grades/import-csv-file-carmen-grades,
  https://ts.vcu.edu/askit/teaching-and-learning/canvas/faculty/grading-faculty/gradebook-action-menu-faculty/);
- Moodle's grade import from CSV: a column to identify users by ("Map from" ID number or email
  address to "Map to" useridnumber or useremail) and a column per grade item
  (https://docs.moodle.org/311/en/Grade_import); and the assignment's offline grading worksheet,
  uploaded back when it is the roster (its `Identifier`, `Grade` and `Last modified (grade)`
  columns, as mod/assign/feedback/offline/importgradeslib.php reads them).
A student with no submission, or whose submission could not be graded, gets a blank cell (no
grade yet), never a silent 0.
"""
import csv
import io
import shutil
import time

import pytest

from grader.reports import roster as rosters
from grader.results import ItemResult, Report
from tests.conftest import ROOT, dlgrade


def write(tmp_path, text, name="roster.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def rows_of(text):
    return list(csv.reader(io.StringIO(text)))


NATIVE = """student_id,name,submission,email,canvas_id,moodle_id
s1,"Smith, Alice",,alice@uni.edu,101,
s2,Bob Jones,,bob@uni.edu,,555
s3,Carol Diaz,carol,carol@uni.edu,,
s4,Dan Wu,,dan@uni.edu,,
"""


@pytest.fixture
def native(tmp_path):
    return rosters.load(write(tmp_path, NATIVE))


# --------------------------------------------------------------------------- matching
@pytest.mark.parametrize("path, student", [
    ("subs/carol", "s3"),                                           # the `submission` column, a folder
    ("subs/carol.zip", "s3"),                                       # ... or a zip, without .zip
    ("subs/CAROL.ZIP", "s3"),                                       # case-insensitive
    ("subs/carol_final.zip", "s3"),                                 # a prefix followed by _ - . or space
    ("subs/carol-v2", "s3"),
    ("subs/s4.zip", "s4"),                                          # no `submission`: the student id
    ("subs/carol/submission.zip", "s3"),                            # LMS nesting: the folder above
    ("subs/s4/mlp", "s4"),
    ("subs/smithalice_101_9001_mlp.zip", "s1"),                     # Canvas: lastfirst_<ID>_<submission>_file
    ("subs/smithalice_LATE_101_9001_mlp-1.zip", "s1"),              # Canvas, late and resubmitted
    ("subs/Bob Jones_555_assignsubmission_file_", "s2"),            # Moodle: Full Name_<participant>_assignsubmission_file_
    ("subs/Bob Jones_555_assignsubmission_file_/mlp.zip", "s2"),
    ("subs/caroline.zip", None),                                    # a prefix must end at a separator
    ("subs/smithalice_102_9001_mlp.zip", None),                     # another Canvas user
    ("subs/submission.zip", None),
], ids=["folder", "zip", "case", "prefix-underscore", "prefix-dash", "student-id", "generic-nested", "repeated-nested",
        "canvas", "canvas-late", "moodle-folder", "moodle-nested", "not-a-prefix", "canvas-other-user", "generic"])
def test_a_submission_path_maps_to_its_student(native, path, student):
    found = rosters.find(native, path)
    assert (found.student_id if found else None) == student


def test_canvas_gradebook_export_is_a_roster(tmp_path):
    """Canvas's own export: the Points Possible (and Manual Posting) rows are no students; the
    student id is the SIS User ID (else Canvas's ID); the assignment's column is reused."""
    roster = rosters.load(write(tmp_path, (
        "Student,ID,SIS User ID,SIS Login ID,Section,mlp (4321),Current Score\n"
        "    Points Possible,,,,,100.00,(read only)\n"
        '"Smith, Alice",101,S001,asmith,CS 101,,\n'
        '"Jones, Bob",102,,bjones,CS 101,,\n')))
    assert roster.layout == "canvas"
    assert [(s.student_id, s.name, s.canvas_id, s.sis_login_id) for s in roster.students] == \
        [("S001", "Smith, Alice", "101", "asmith"), ("102", "Jones, Bob", "102", "bjones")]
    assert rosters.canvas_title(roster, "mlp") == "mlp (4321)"
    assert rosters.find(roster, "smithalice_101_77_mlp.zip").student_id == "S001"


WORKSHEET = ("Identifier,Full name,Email address,Status,Grade,Maximum Grade,Grade can be changed,"
             "Last modified (submission),Last modified (grade),Feedback comments\n"
             "Participant 123456,Alice Smith,alice@uni.edu,Submitted for grading,,100.00,Yes,\"Monday, 1 June 2026\",-,\n"
             "Participant 123457,Bob Jones,bob@uni.edu,No submission,,100.00,Yes,-,-,\n")


def test_moodle_grading_worksheet_is_a_roster(tmp_path):
    roster = rosters.load(write(tmp_path, WORKSHEET))
    assert roster.layout == "moodle"
    assert [(s.student_id, s.name, s.moodle_id) for s in roster.students] == \
        [("alice@uni.edu", "Alice Smith", "123456"), ("bob@uni.edu", "Bob Jones", "123457")]
    assert rosters.find(roster, "Alice Smith_123456_assignsubmission_file_").student_id == "alice@uni.edu"


# --------------------------------------------------------------------------- invalid rosters
INVALID = [
    (None, "no such file"),
    ("", "empty (a header row such as student_id,name,submission is needed)"),
    ("name,submission\nAlice,alice\n", "no student_id column (columns: name, submission); "
                                       "or give Canvas's exported gradebook or Moodle's grading worksheet"),
    ("student_id,name\ns1,Alice\ns1,Bob\n", "student id 's1' appears twice (rows 2 and 3)"),
    ("student_id,name,submission\ns1,Alice,alice\ns2,Bob,ALICE\n", "submission name 'ALICE' appears twice (rows 2 and 3)"),
    ("student_id,name\ns1,Alice\n,Bob\n", "row 3 has no student_id"),
    ("student_id,canvas_id\ns1,7\ns2,7\n", "Canvas ID '7' appears twice (rows 2 and 3)"),
    ("student_id,name,submission\ns1,Alice,linear\ns2,Ann,linear_key\n",
     "submission {key} matches two students: s1 (row 2) and s2 (row 3)"),
    ("student_id,name,submission\ns1,Alice,linear\n", "student s1 (Alice) has two submissions: {key} and assignments/linear"),
]


@pytest.mark.parametrize("text, message", INVALID,
                         ids=["missing-file", "empty-file", "missing-column", "duplicate-id", "duplicate-submission",
                              "empty-id", "duplicate-canvas-id", "matches-two-rows", "two-submissions"])
def test_an_unusable_roster_is_one_line_and_exit_2_before_any_grading(tmp_path, text, message):
    """Through the real command: nothing graded, nothing written, one `error:` line."""
    key = tmp_path / "linear_key"  # the answer key, named so that `linear` is a prefix of its name
    key.symlink_to(ROOT / "solutions" / "linear")
    path = tmp_path / "missing.csv" if text is None else write(tmp_path, text)
    out = tmp_path / "out"
    start = time.monotonic()
    result = dlgrade("grade", "linear", key, "assignments/linear", "--roster", path, "-o", out, "--no-sandbox")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [f"error: --roster {path}: {message.format(key=key)}"]
    assert not out.exists() and time.monotonic() - start < 60


# --------------------------------------------------------------------------- a graded class
ROSTER = """student_id,name,submission,email,canvas_id,moodle_id
s1,"Smith, Alice",,alice@uni.edu,101,
s2,Bob Jones,,bob@uni.edu,,555
s3,Carol Diaz,carol,carol@uni.edu,,
s4,Dan Wu,,dan@uni.edu,,
"""


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A class as an LMS hands it over: Alice's answer key downloaded from Canvas, Bob's stubs
    from Moodle, Carol's broken zip, Dan's nothing, and a stranger's submission."""
    tmp = tmp_path_factory.mktemp("class")
    subs = tmp / "subs"
    subs.mkdir()
    shutil.copytree(ROOT / "solutions" / "linear", subs / "smithalice_101_9001_linear")
    shutil.copytree(ROOT / "assignments" / "linear", subs / "Bob Jones_555_assignsubmission_file_")
    (subs / "carol.zip").write_bytes(b"not a zip")
    shutil.copytree(ROOT / "solutions" / "linear", subs / "stranger")
    paths = sorted(str(p) for p in subs.iterdir())
    roster = write(tmp, ROSTER)
    out = tmp / "out"
    result = dlgrade("grade", "linear", *paths, "--roster", roster, "-o", out, "--no-sandbox", "-j", "2")
    csv_run = dlgrade("grade", "linear", *paths, "--roster", roster, "--format", "csv", "--no-sandbox", "-j", "2")
    return result, csv_run, out, subs


def test_the_check_warns_before_grading_and_lists_both_in_the_class_view(graded):
    result, _, out, subs = graded
    assert result.returncode == 1  # carol.zip could not be graded: its own error line, the others graded
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == ["warning: roster: s4 (Dan Wu) has no submission",
                        f"warning: {subs / 'stranger'}: no roster entry (graded, but in no LMS export)"]
    assert rows_of((out / "roster_check.csv").read_text()) == [
        ["problem", "student_id", "name", "submission"], ["no submission", "s4", "Dan Wu", ""],
        ["no roster entry", "", "", str(subs / "stranger")]]
    page = (out / "summary.html").read_text()
    assert "<h2>Roster</h2>" in page and "s4 (Dan Wu): no submission" in page
    assert f"{subs / 'stranger'}: no roster entry" in page and 'href="canvas.csv"' in page


def test_grades_csv_carries_student_id_and_name_first(graded):
    _, csv_run, out, subs = graded
    for text in ((out / "grades.csv").read_text(), csv_run.stdout):
        table = list(csv.DictReader(io.StringIO(text)))
        assert list(table[0])[:4] == ["student_id", "name", "id", "submission"]
        got = {r["submission"]: (r["student_id"], r["name"], r["status"][:10], r["score"]) for r in table}
        assert got == {str(subs / "Bob Jones_555_assignsubmission_file_"): ("s2", "Bob Jones", "graded", "0"),
                       str(subs / "carol.zip"): ("s3", "Carol Diaz", "not graded", ""),
                       str(subs / "smithalice_101_9001_linear"): ("s1", "Smith, Alice", "graded", "100"),
                       str(subs / "stranger"): ("", "", "graded", "100")}


def test_canvas_csv_follows_canvas_gradebook_import_layout(graded):
    """Header, then Points Possible, then one row per roster student in roster order; blank for
    no submission (Dan) and for a submission that could not be graded (Carol)."""
    assert rows_of((graded[2] / "canvas.csv").read_text()) == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "linear"],
        ["Points Possible", "", "", "", "", "100"],
        ["Smith, Alice", "101", "s1", "", "", "100"],
        ["Bob Jones", "", "s2", "", "", "0"],
        ["Carol Diaz", "", "s3", "", "", ""],
        ["Dan Wu", "", "s4", "", "", ""]]


def test_moodle_csv_follows_moodle_grade_import_layout(graded):
    assert rows_of((graded[2] / "moodle.csv").read_text()) == [
        ["Full name", "ID number", "Email address", "linear"],
        ["Smith, Alice", "s1", "alice@uni.edu", "100"],
        ["Bob Jones", "s2", "bob@uni.edu", "0"],
        ["Carol Diaz", "s3", "carol@uni.edu", ""],
        ["Dan Wu", "s4", "dan@uni.edu", ""]]


# --------------------------------------------------------------------------- exports as pure functions
def report(submission, score, *, error=""):
    items = [] if error else [ItemResult("mlp.a", score, 60, "partial", "public", ""),
                              ItemResult("mlp.b", 0, 40, "failed", "public", "")]
    return Report("mlp", submission, items, error=error)


def test_write_exports_is_a_pure_function_of_reports_and_roster(tmp_path):
    """What `dlgrade merge` calls on the reports of several shards: the same gradebooks whatever
    the order the shards give the reports in."""
    roster = rosters.load(write(tmp_path, WORKSHEET))
    reports = [report("dl/Alice Smith_123456_assignsubmission_file_", 37.5), report("dl/nobody.zip", 10)]
    first = rosters.exports(reports, roster, "mlp")
    again = rosters.exports(reports[::-1], roster, "mlp")
    assert {k: v for k, v in again.items() if k != "roster_check.csv"} == \
        {k: v for k, v in first.items() if k != "roster_check.csv"}
    out = tmp_path / "out"
    out.mkdir()
    written = rosters.write_exports(reports, roster, out)
    assert sorted(p.name for p in written) == ["canvas.csv", "moodle.csv", "moodle_worksheet.csv", "roster_check.csv"]
    assert {p.name: p.read_text() for p in written} == first
    sheet = rows_of(first["moodle_worksheet.csv"])
    assert sheet[0] == WORKSHEET.splitlines()[0].split(",")  # the worksheet's own columns, in its order
    assert [(r[0], r[4], r[8]) for r in sheet[1:]] == [("Participant 123456", "37.5", "-"), ("Participant 123457", "", "-")]
    assert rows_of(first["moodle.csv"])[1:] == [["Alice Smith", "", "alice@uni.edu", "37.5"],
                                                ["Bob Jones", "", "bob@uni.edu", ""]]


def test_annotate_gives_each_report_its_student(native):
    reports = [report("a/carol.zip", 1), report("a/x.zip", 2), report("a/s4", 0, error="not a zip file")]
    assert [s.student_id if s else None for s in rosters.annotate(reports, native)] == ["s3", None, "s4"]
    assert rosters.scores(reports, native) == {"s3": "1"}  # the ungraded s4 has no score, never 0


def test_an_empty_roster_only_warns(tmp_path):
    roster = rosters.load(write(tmp_path, "student_id,name\n"))
    assert rosters.warnings(roster, ["subs/alice"]) == ["subs/alice: no roster entry (graded, but in no LMS export)"]


def test_shards_joined_by_merge_with_the_roster_give_the_same_gradebooks(graded, tmp_path):
    """`--shard K/N --roster` checks the roster against the whole class in every shard (the same
    warnings) and leaves the exports to `dlgrade merge --roster`, whose files equal one run's."""
    _, _, single, subs = graded
    paths, roster = sorted(str(p) for p in subs.iterdir()), single.parent / "roster.csv"
    for k in (0, 1):
        run = dlgrade("grade", "linear", *paths, "--roster", roster, "--shard", f"{k}/2", "-o", tmp_path / f"out-{k}",
                      "--no-sandbox", "-j", "1")
        assert "warning: roster: s4 (Dan Wu) has no submission" in run.stderr
        assert not (tmp_path / f"out-{k}" / "canvas.csv").exists()
    merged = dlgrade("merge", tmp_path / "out-0", tmp_path / "out-1", "-o", tmp_path / "class", "--roster", roster)
    assert "Traceback" not in merged.stderr
    for name in ("canvas.csv", "moodle.csv", "roster_check.csv"):
        assert (tmp_path / "class" / name).read_text() == (single / name).read_text(), name
    assert list(csv.reader(open(tmp_path / "class" / "grades.csv")))[0][:2] == ["student_id", "name"]
