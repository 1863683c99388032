"""The grading engine: what the CLI, the student tool, reports and tests call.

`grade(assignment, submission, ...)` runs every item of an assignment on one submission and
returns a `grader.results.Report`; `grade_many` grades a class; `class_run` takes a class in (each
submission unpacked once) and grades it, into an output folder whose records resume an
interrupted run.

Modules: `registry` (assignments, items), `intake` (folders and zips to grader-owned copies),
`grading` (Options, items on submissions), `public` (the public cases of a released kit: what
`dlgrade check` compares with), `oracle` (the reference: what `dlgrade grade` compares with; the
only one that imports `reference`, loaded on first use of its names here), `run` (a class run
with its resume records).
"""
from grader.engine.grading import Options, expected_source, grade, grade_item, grade_many, select_items, submission_salt
from grader.engine.intake import (EMPTY, MAX_DEPTH, MAX_ZIP_BYTES, MAX_ZIP_MEMBERS, assignment_folder, content_hash,
                                  data_files, gradable, missing_modules, snapshot, syntax_errors, unpack,
                                  weights_files)
from grader.engine.public import PUBLIC_CASES, PublicCases, load_public_cases, save_public_cases
from grader.engine.registry import assignments, item_rng, items
from grader.engine.run import PENDING, RESULTS, ClassRun, class_run, write_atomic
from grader.results import NOT_GRADED, GradeError, ItemResult, Report

ORACLE_NAMES = ("Oracle", "REFERENCE_SECONDS", "expected_from_reference", "reference_cases", "reference_resolve",
                "run_reference")


def __getattr__(name):
    """The oracle's names, imported on first use: `dlgrade check` never loads `reference`."""
    if name in ORACLE_NAMES:
        from grader.engine import oracle
        return getattr(oracle, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["EMPTY", "MAX_DEPTH", "MAX_ZIP_BYTES", "MAX_ZIP_MEMBERS", "NOT_GRADED", "PENDING", "PUBLIC_CASES", "RESULTS",
           "ClassRun", "GradeError", "ItemResult", "Options", "PublicCases", "Report", "assignment_folder",
           "assignments", "class_run", "content_hash", "data_files", "expected_source", "grade", "grade_item",
           "grade_many", "gradable", "item_rng", "items", "load_public_cases", "missing_modules",
           "save_public_cases", "select_items", "snapshot", "submission_salt", "syntax_errors", "unpack",
           "weights_files", "write_atomic", *ORACLE_NAMES]
