"""`dlgrade nbgrader autograde COURSE A`: the trusted path of an nbgrader course.

From `submitted/<student>/<a>/` it reads only what `grader.release.nbgrader.intake` reads (the
notebook is never executed), grades the modules in sandboxed workers like `dlgrade grade`,
writes the scores into nbgrader's gradebook through nbgrader's API (`nbgrader export` and
formgrader show them), and writes `autograded/<student>/<a>/`, which `nbgrader generate_feedback`
hands to the student whole: only the feedback notebook (the submitted cells' sources, outputs
cleared, and as the output of each grade cell what the student may see of that item). The
instructor's full report goes to `dlgrade_reports/<student>/<a>/`. A submission refused or not
gradable is that student's error, never the batch's.
"""
import copy
import html
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from grader import engine
from grader.items import TrustedItem
from grader.release.nbgrader.intake import (Intake, Source, feedback_cells, intake, read_notebook, source_notebooks,
                                            student_names)
from grader.release.nbgrader.source import grade_id
from grader.sandbox import wire

REPORTS = "dlgrade_reports"             # COURSE/dlgrade_reports/<student>/<a>/dlgrade_report.json: the instructor's


@dataclass
class Graded:
    student: str
    report: object
    notebooks: list


def _course_config(course: Path):
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader
    config = Config()
    if (course / "nbgrader_config.py").is_file():
        config.merge(PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config())
    config.CourseDirectory.root = str(course)
    return config


def _not_graded(assignment: str, student: str, error: str):
    """The report of a submission refused before grading: every item an error worth 0."""
    return engine.Report(assignment, student, [
        engine.ItemResult(i.id, 0.0, i.points, "error", i.visibility, engine.NOT_GRADED,
                       trained=isinstance(i, TrustedItem)) for i in engine.items(assignment)], error=error)


def autograde(course: Path, assignment: str, *, jobs: int = 2, opts: engine.Options = None, students=None) -> list:
    """Grade `course/submitted/*/<assignment>/` in workers; write the gradebook. Returns [Graded].

    A submission that cannot be read safely (`intake`) or graded at all is that student's error:
    0 points in every grade cell, flagged `needs_manual_grade` for formgrader, the reason in its
    report and at the top of its feedback notebook; every other student is graded."""
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.coursedir import CourseDirectory

    course = Path(course).resolve()
    coursedir = CourseDirectory(config=_course_config(course))
    source_dir = course / "source" / assignment
    src = source_notebooks(source_dir, assignment)
    submitted = course / "submitted"
    names = student_names(submitted, assignment, students)
    results = []
    with tempfile.TemporaryDirectory(prefix="dlgrade-nbgrader-") as tmp:
        intakes = []
        submitted_fd = os.open(submitted, os.O_RDONLY | os.O_DIRECTORY) if names else None
        try:
            for k, student in enumerate(names):
                x = intake(submitted_fd, student, assignment, src, Path(tmp, str(k)))
                if not x.error:
                    for given in source_dir.glob("*.py"):  # given code from the instructor, as in nbgrader
                        if not (x.work / given.name).exists():
                            shutil.copyfile(given, x.work / given.name)
                intakes.append(x)
        finally:
            if submitted_fd is not None:
                os.close(submitted_fd)
        ok = [x for x in intakes if not x.error]
        reports = engine.grade_many(assignment, [x.work for x in ok], opts=opts or engine.Options(), jobs=jobs) if ok else []
        by_student = dict(zip((x.student for x in ok), reports))
        for x in intakes:
            report = by_student.get(x.student) or _not_graded(assignment, x.student, x.error)
            report.submission = x.student
            results.append(Graded(x.student, report, [Path(n).stem for n in x.feedback]))
        _write_gradebook(course, coursedir, assignment, src, intakes, results, Gradebook, MissingEntry)
    return results


def _write_gradebook(course, coursedir, assignment, src, intakes, results, Gradebook, MissingEntry):
    import warnings
    try:
        from sqlalchemy.exc import SAWarning
    except ImportError:  # pragma: no cover - nbgrader depends on SQLAlchemy
        SAWarning = Warning
    with warnings.catch_warnings(), Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        warnings.simplefilter("ignore", SAWarning)  # nbgrader's add_submission, not ours
        try:
            gradebook_notebooks = [nb.name for nb in gb.find_assignment(assignment).notebooks]
        except MissingEntry:
            raise engine.GradeError(f"{assignment} is not in the gradebook: run `nbgrader generate_assignment {assignment}` first")
        for x, g in zip(intakes, results):
            gb.update_or_create_student(g.student)
            try:
                submission = gb.find_submission(assignment, g.student)
                if x.timestamp:
                    submission.timestamp = x.timestamp
            except MissingEntry:
                gb.add_submission(assignment, g.student, **({"timestamp": x.timestamp} if x.timestamp else {}))
            by_cell = {grade_id(i.id): i for i in g.report.items}
            for nb_name in gradebook_notebooks:
                for grade in gb.find_submission_notebook(nb_name, assignment, g.student).grades:
                    item = by_cell.get(grade.name)
                    if item is not None:
                        grade.auto_score = item.score
                        grade.needs_manual_grade = bool(g.report.error)  # formgrader lists it for a look
                    elif grade.manual_score is None:  # an inline question's answer: graded by hand
                        grade.needs_manual_grade = True
            gb.db.commit()
            _write_outputs(course, assignment, src, x, g.report)


def _fresh_folder(path: Path):
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)


def _write_outputs(course: Path, assignment: str, src: Source, x: Intake, report):
    """`autograded/<student>/<a>/`, which `nbgrader generate_feedback` copies to the student whole,
    holds the feedback notebooks and nothing else; the instructor's report (hidden items' details
    included) goes to `dlgrade_reports/<student>/<a>/`."""
    out = course / "autograded" / x.student / assignment
    _fresh_folder(out)
    for name in src.notebooks:
        if name in x.feedback:
            cells = json.loads(x.feedback[name].read_text())
        elif report.error:
            cells = []  # the notebook was refused or never read: the feedback says why
        else:
            continue
        (out / name).write_text(feedback_notebook(cells, report))
    mine = course / REPORTS / x.student / assignment
    mine.mkdir(parents=True, exist_ok=True)
    (mine / "dlgrade_report.json").unlink(missing_ok=True)
    (mine / "dlgrade_report.json").write_text(wire.dumps(report.to_dict(), indent=1) + "\n")


def grade_outputs(report) -> dict:
    """{grade_id: cell outputs}: what the student may see of each item (`grader.student.notebook.item_text`),
    as the output of its grade cell, as if the cell had run `score(...)`."""
    from grader.student.notebook import item_text
    out = {}
    for item in copy.deepcopy(report.items):
        out[grade_id(item.id)] = [
            {"name": "stdout", "output_type": "stream", "text": item_text(item) + "\n"},
            {"data": {"text/plain": repr(float(item.score))}, "execution_count": None, "metadata": {},
             "output_type": "execute_result"}]
    return out


def feedback_notebook(notebook, report) -> str:
    """The feedback notebook: the cells of the submitted notebook (`feedback_cells`, or a path read
    as the trusted path reads it) with every output cleared and each grade cell showing the trusted
    result of its item; a report's error (the submission was not graded) as its first cell. A
    notebook that cannot be read gives a notebook that says why, never the file's content."""
    error = report.error
    if isinstance(notebook, (str, Path)):
        try:
            notebook = feedback_cells(read_notebook(Path(notebook)))
        except engine.GradeError as exc:
            notebook, error = [], error or str(exc)
    cells = copy.deepcopy(notebook)
    outputs = grade_outputs(report)
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        nbg = cell["metadata"].get("nbgrader", {})
        gid = nbg.get("grade_id") if nbg.get("grade") else None
        if gid in outputs:
            cell["outputs"] = outputs.pop(gid)
    if error:
        cells.insert(0, {"cell_type": "markdown", "id": "dlgrade-not-graded", "metadata": {},
                         "source": f"**Not graded**: {html.escape(error, quote=False)}"})
    nb = {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
          "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                       "language_info": {"name": "python"}}}
    return wire.dumps(nb, indent=1) + "\n"
