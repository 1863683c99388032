"""The class roster: which student each submission belongs to, the check that finds students
with no submission and submissions with no student, and the gradebook exports for Canvas and
Moodle. Everything here is a pure function of a `Roster` and of reports (or submission paths).

    roster = load("roster.csv")                     # RosterError: one line, before any grading
    students = match(roster, paths)                 # a Student or None per path (RosterError if ambiguous)
    missing, unmatched = check(roster, paths)       # the two lists of `dlgrade grade --roster`
    write_exports(reports, roster, outdir, "mlp")   # canvas.csv, moodle.csv, roster_check.csv

Three layouts are read as a roster (docs/instructors.md, "Roster and LMS exports"):
- dlgrade's own: `student_id` (required), `name`, `submission` (a file or folder name, or its
  prefix; default: the student id), `email`, `section`, `canvas_id`, `sis_user_id`,
  `sis_login_id`, `moodle_id`;
- Canvas's exported gradebook (`Student, ID, SIS User ID, SIS Login ID, Section, ...`);
- Moodle's assignment grading worksheet (`Identifier, Full name, Email address, ...`).

A submission path is matched by its file or folder name without `.zip` (or, when nothing matches
it, by the name of the folder above): first the LMS user id an LMS download writes into the name
(Canvas `lastfirst_12345_67890_file.zip`: `12345` is Canvas's `ID`; Moodle
`Full Name_123456_assignsubmission_file_`: `123456` is the worksheet's `Participant 123456`),
or the row's `submission` (or student id) as the whole name or as a prefix followed by `_`, `-`,
`.` or a space. A submission that matches two rows, or two submissions for one student, are a
`RosterError`: never a grade given to the wrong student.
"""
import csv
import html
import io
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from grader import atomic
from grader.reports.report import safe_cell, _num, to_csv

CANVAS_NAME = re.compile(r"^(?:[^_]+_)+?(?:late_)?(\d+)_\d+_", re.IGNORECASE)  # lastfirst[_LATE]_<user id>_<id>_...
CANVAS_SHORT = re.compile(r"^[^_]+_(?:late_)?(\d+)_", re.IGNORECASE)  # lastfirst_<user id>_text.html
MOODLE_NAME = re.compile(r"_(\d+)_assign(?:submission|feedback)_", re.IGNORECASE)  # Full Name_<participant>_...
PREFIX_END = "_-. "
GENERIC_NAMES = {"submission", "submissions"}
NATIVE = ("student_id", "name", "submission", "email", "section", "canvas_id", "sis_user_id", "sis_login_id",
          "moodle_id")
CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
WORKSHEET_GRADE, WORKSHEET_ID = "Grade", "Identifier"
EXPORTS = ("canvas.csv", "moodle.csv", "roster_check.csv", "moodle_worksheet.csv")  # what write_exports may write


class RosterError(Exception):
    """A roster that cannot be used (one line): grading does not start."""


@dataclass(frozen=True)
class Student:
    student_id: str
    name: str = ""
    submission: str = ""  # a file or folder name, or a prefix of one
    email: str = ""
    section: str = ""
    canvas_id: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""
    moodle_id: str = ""
    row: int = 0  # the line of the roster file


@dataclass
class Roster:
    path: str
    layout: str  # "dlgrade", "canvas" or "moodle"
    students: list
    columns: list = field(default_factory=list)  # a Moodle worksheet's header, written back by `worksheet_csv`
    rows: dict = field(default_factory=dict)  # {student_id: the worksheet's row as read}
    canvas_columns: list = field(default_factory=list)  # a Canvas gradebook's assignment columns
    index: dict = field(default=None, repr=False, compare=False)  # `_index`

    def where(self) -> str:
        return f"--roster {self.path}"


def _norm(header: str) -> str:
    return re.sub(r"[\s\-]+", "_", header.strip().lower())


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", str(text)).strip().casefold()


def _read(path) -> list:
    p = Path(path)
    if not p.is_file():
        raise RosterError(f"--roster {path}: no such file")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise RosterError(f"--roster {path}: cannot be read as UTF-8 text ({type(exc).__name__})") from None
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise RosterError(f"--roster {path}: not a CSV file ({exc})") from None
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise RosterError(f"--roster {path}: empty (a header row such as student_id,name,submission is needed)")
    return rows


def load(path) -> Roster:
    """The roster at `path` in any of the three layouts, validated: RosterError (one line) for a
    missing file, a missing column, a row without an id, a duplicate student id, submission name,
    Canvas ID or Moodle participant."""
    rows = _read(path)
    header = [h.strip() for h in rows[0]]
    norm = [_norm(h) for h in header]
    body = [(k, dict(zip(header, r + [""] * (len(header) - len(r))))) for k, r in enumerate(rows[1:], 2)
            if any(c.strip() for c in r)]
    if {"student", "id", "sis_user_id"} <= set(norm):
        roster = _canvas(path, header, body)
    elif {"identifier", "full_name"} <= set(norm):
        roster = _moodle(path, header, body)
    elif "student_id" in norm:
        roster = _native(path, header, norm, body)
    else:
        raise RosterError(f"--roster {path}: no student_id column (columns: {', '.join(header)}); "
                          f"or give Canvas's exported gradebook or Moodle's grading worksheet")
    _unique(roster)
    return roster


def _native(path, header, norm, body):
    col = {n: h for h, n in zip(header, norm) if n in NATIVE}
    students = []
    for k, r in body:
        values = {n: r[h].strip() for n, h in col.items()}
        if not values["student_id"]:
            raise RosterError(f"--roster {path}: row {k} has no student_id")
        students.append(Student(**values, row=k))
    return Roster(str(path), "dlgrade", students)


def _canvas(path, header, body):
    """Canvas's gradebook export: rows without a numeric ID (`Points Possible`, `Manual
    Posting`) are not students; the student id is the SIS User ID, else Canvas's ID."""
    col = {_norm(h): h for h in header}
    get = (lambda r, n: r.get(col.get(n, ""), "").strip())
    students = [Student(get(r, "sis_user_id") or get(r, "id"), get(r, "student"), email="",
                        section=get(r, "section"), canvas_id=get(r, "id"), sis_user_id=get(r, "sis_user_id"),
                        sis_login_id=get(r, "sis_login_id"), row=k)
                for k, r in body if get(r, "id").isdigit()]
    fixed = {_norm(c) for c in CANVAS_COLUMNS} | {"integration_id", "root_account"}
    return Roster(str(path), "canvas", students, canvas_columns=[h for h in header if _norm(h) not in fixed])


def _moodle(path, header, body):
    """Moodle's grading worksheet: `Identifier` is `Participant <n>`, the number Moodle writes
    into each downloaded submission's name; the student id is the ID number, else the email."""
    col = {_norm(h): h for h in header}
    get = (lambda r, n: r.get(col.get(n, ""), "").strip())
    students, rows = [], {}
    for k, r in body:
        found = re.search(r"(\d+)\s*$", get(r, "identifier"))
        if not found:
            raise RosterError(f"--roster {path}: row {k}: Identifier {get(r, 'identifier')!r} is not 'Participant <number>'")
        sid = get(r, "id_number") or get(r, "email_address") or get(r, "identifier")
        students.append(Student(sid, get(r, "full_name"), email=get(r, "email_address"),
                                sis_user_id=get(r, "id_number"), moodle_id=found.group(1), row=k))
        rows[sid] = r
    return Roster(str(path), "moodle", students, columns=header, rows=rows)


def _unique(roster):
    for what, key in (("student id", lambda s: s.student_id), ("submission name", lambda s: s.submission or s.student_id),
                      ("Canvas ID", lambda s: s.canvas_id), ("Moodle participant", lambda s: s.moodle_id)):
        seen = {}
        for s in roster.students:
            value = _fold(key(s))
            if value and value in seen:
                raise RosterError(f"{roster.where()}: {what} {key(s)!r} appears twice (rows {seen[value]} and {s.row})")
            seen.setdefault(value, s.row)


# --------------------------------------------------------------------------- matching
def _stem(name: str) -> str:
    return name[:-4] if name.lower().endswith(".zip") else name


def names(path) -> list:
    """The names a submission path is matched by: its file or folder name without `.zip`, then
    the folder above it (where an LMS nests `submission.zip` in a folder per student)."""
    parts = [p for p in str(path).replace("\\", "/").split("/") if p not in ("", ".", "..")]
    return [_stem(p) for p in parts[-1:-3:-1]]


def _index(roster) -> dict:
    """{(kind, key): [students]} for matching (built once per roster)."""
    if roster.index is None:
        roster.index = {}
        for s in roster.students:
            for key in (("canvas", s.canvas_id), ("moodle", s.moodle_id), ("name", _fold(s.submission or s.student_id))):
                if key[1]:
                    roster.index.setdefault(key, []).append(s)
    return roster.index


def _matches(roster, name) -> list:
    """Every row `name` matches: by the LMS user id in it, as the whole name, or as a prefix
    followed by `_`, `-`, `.` or a space (each row once, in roster order)."""
    index, key = _index(roster), _fold(name)
    moodle = MOODLE_NAME.search(name)
    canvas = None if moodle else (CANVAS_NAME.match(name) or CANVAS_SHORT.match(name))
    found = index.get(("moodle", moodle.group(1)), []) if moodle else \
        index.get(("canvas", canvas.group(1)), []) if canvas else []
    for k in [len(key)] + [k for k in range(1, len(key)) if key[k] in PREFIX_END]:
        found = found + index.get(("name", key[:k]), [])
    return sorted(set(found), key=lambda s: s.row)


def find(roster, path):
    """The student a submission path belongs to, or None; RosterError when it matches two rows
    (the folder above is looked at only when the name itself matches none)."""
    for name in names(path):
        found = [] if name.lower() in GENERIC_NAMES else _matches(roster, name)
        if len(found) > 1:
            rows = " and ".join(f"{s.student_id} (row {s.row})" for s in found[:2])
            raise RosterError(f"{roster.where()}: submission {path} matches two students: {rows}")
        if found:
            return found[0]
    return None


def match(roster, paths) -> list:
    """A `Student` or None per path, in order; RosterError when a path matches two students or
    two paths match one student."""
    found = [find(roster, p) for p in paths]
    seen = {}
    for p, s in zip(paths, found):
        if s is not None and s.student_id in seen:
            raise RosterError(f"{roster.where()}: student {s.student_id} ({s.name or 'no name'}) has two submissions: "
                              f"{seen[s.student_id]} and {p}")
        if s is not None:
            seen[s.student_id] = p
    return found


def annotate(reports, roster) -> list:
    """`match` on the reports' submissions: a `Student` or None per report (for `dlgrade merge`)."""
    return match(roster, [r.submission for r in reports])


def check(roster, paths):
    """(students with no submission, submissions with no roster entry), each in order."""
    found = match(roster, paths)
    have = {s.student_id for s in found if s is not None}
    return [s for s in roster.students if s.student_id not in have], [p for p, s in zip(paths, found) if s is None]


def warnings(roster, paths) -> list:
    """The check's `warning:` lines, one per student with no submission and per submission with no student."""
    missing, unmatched = check(roster, paths)
    return ([f"roster: {s.student_id} ({s.name or 'no name'}) has no submission" for s in missing]
            + [f"{p}: no roster entry (graded, but in no LMS export)" for p in unmatched])


# --------------------------------------------------------------------------- exports
def _csv(rows) -> str:
    """Rows as CSV, values as given: an LMS imports them back as they are (a name or Moodle's `-`
    written with a quote in front would be a different value)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def scores(reports, roster) -> dict:
    """{student_id: score as written}: a graded submission's total; a student with no submission
    or whose submission could not be graded has none (blank in every export, never a silent 0)."""
    return {s.student_id: _num(r.score) for s, r in zip(annotate(reports, roster), reports)
            if s is not None and not r.error}


def _id_number(roster, s) -> str:
    """The institution's id of a student (Canvas's SIS User ID, Moodle's ID number): the roster's
    `sis_user_id` (a Moodle worksheet's ID number), else a dlgrade roster's student id."""
    return s.sis_user_id or (s.student_id if roster.layout == "dlgrade" else "")


def _max_score(reports) -> str:
    return next((_num(r.max_score) for r in reports if r.items), "")


def canvas_title(roster, assignment) -> str:
    """The assignment column of canvas.csv: the column of a Canvas roster named after the
    assignment (`mlp (123456)`, so Canvas updates that assignment), else the assignment's name
    (Canvas then creates an assignment of that name)."""
    same = [c for c in roster.canvas_columns if _fold(re.sub(r"\s*\(\d+\)\s*$", "", c)) == _fold(assignment)]
    return same[0] if len(same) == 1 else assignment


def canvas_csv(reports, roster, assignment) -> str:
    """Canvas's gradebook import layout: `Student, ID, SIS User ID, SIS Login ID, Section`, the
    assignment's column, a `Points Possible` row, then one row per roster student."""
    got = scores(reports, roster)
    rows = [[*CANVAS_COLUMNS, canvas_title(roster, assignment)], ["Points Possible", "", "", "", "", _max_score(reports)]]
    rows += [[s.name, s.canvas_id, _id_number(roster, s), s.sis_login_id, s.section, got.get(s.student_id, "")]
             for s in roster.students]
    return _csv(rows)


MOODLE_COLUMNS = ("Full name", "ID number", "Email address")


def moodle_csv(reports, roster, assignment) -> str:
    """Moodle's grade import (CSV) layout: identifier columns to map from (`ID number`, `Email
    address`), then the assignment's grade column; one row per roster student."""
    got = scores(reports, roster)
    rows = [[*MOODLE_COLUMNS, assignment]]
    rows += [[s.name, _id_number(roster, s), s.email, got.get(s.student_id, "")] for s in roster.students]
    return _csv(rows)


def worksheet_csv(reports, roster) -> str:
    """A Moodle grading worksheet given as the roster, as read, with its `Grade` column filled in
    (to upload back into the assignment); '' for any other roster."""
    if roster.layout != "moodle" or WORKSHEET_GRADE not in roster.columns:
        return ""
    got = scores(reports, roster)
    rows = [roster.columns] + [[got.get(s.student_id, "") if c == WORKSHEET_GRADE else roster.rows[s.student_id][c]
                                for c in roster.columns] for s in roster.students]
    return _csv(rows)


CHECK_COLUMNS = ("problem", "student_id", "name", "submission")


def check_csv(reports, roster) -> str:
    """roster_check.csv: one row per roster student with no submission and per submission with no
    roster entry."""
    missing, unmatched = check(roster, [r.submission for r in reports])
    rows = [CHECK_COLUMNS] + [["no submission", s.student_id, s.name, ""] for s in missing]
    rows += [["no roster entry", "", "", safe_cell(p)] for p in unmatched]  # a name a student chose: never a formula
    return _csv(rows)


def people(reports, roster) -> list:
    """(student_id, name) per report, ("", "") for a submission with no roster entry: the first
    columns of grades.csv (`report.to_csv(..., people=...)`)."""
    return [(s.student_id, s.name) if s else ("", "") for s in annotate(reports, roster)]


def gradebook(reports, roster) -> str:
    """`--format csv` with a roster: the gradebook with `student_id` and `name` first."""
    return to_csv(reports, people=people(reports, roster))


def exports(reports, roster, assignment) -> dict:
    """{file name: text} of everything `write_exports` writes."""
    out = {"canvas.csv": canvas_csv(reports, roster, assignment), "moodle.csv": moodle_csv(reports, roster, assignment),
           "roster_check.csv": check_csv(reports, roster)}
    sheet = worksheet_csv(reports, roster)
    if sheet:
        out["moodle_worksheet.csv"] = sheet
    return out


def write_exports(reports, roster, outdir, assignment_title=None) -> list:
    """canvas.csv, moodle.csv, roster_check.csv (and moodle_worksheet.csv for a Moodle worksheet
    roster) in `outdir`, each written atomically; the paths written. `assignment_title` names the
    grade column (default: the reports' assignment)."""
    title = assignment_title or next((r.assignment for r in reports), "assignment")
    written = []
    for name, text in exports(reports, roster, title).items():
        atomic.write(Path(outdir) / name, text)
        written.append(Path(outdir) / name)
    return written


def summary_section(reports, roster) -> str:
    """The roster section of summary.html: the exports, and the check's two lists."""
    missing, unmatched = check(roster, [r.submission for r in reports])
    items = [f"<li>{html.escape(s.student_id)} ({html.escape(s.name or 'no name')}): no submission</li>" for s in missing]
    items += [f"<li>{html.escape(p)}: no roster entry</li>" for p in unmatched]
    listing = f"<ul>\n{chr(10).join(items)}\n</ul>" if items else "<p>Every roster student has one submission, and every submission a roster entry.</p>"
    return (f'<h2>Roster</h2>\n<p>{len(roster.students)} students in {html.escape(roster.path)}; '
            f'LMS exports: <a href="canvas.csv">canvas.csv</a>, <a href="moodle.csv">moodle.csv</a>; '
            f'the check: <a href="roster_check.csv">roster_check.csv</a> '
            f'({len(missing)} with no submission, {len(unmatched)} with no roster entry).</p>\n{listing}\n')
