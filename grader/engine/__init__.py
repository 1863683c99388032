"""The grading engine: what the CLI, the student tool, reports and tests call.

`grade(assignment, submission, ...)` runs every item of an assignment on one submission and
returns a `grader.results.Report`; `grade_many` grades a class.
"""
from grader.engine.api import (EMPTY, MAX_DEPTH, MAX_ZIP_BYTES, MAX_ZIP_MEMBERS, PUBLIC_CASES, REFERENCE_SECONDS,
                               Options, assignments, content_hash, data_files, expected_from_reference, grade,
                               grade_item, grade_many, gradable, item_rng, items, load_public_cases, missing_modules,
                               reference_cases, reference_resolve, run_reference, save_public_cases, select_items,
                               snapshot, submission_salt, syntax_errors, unpack)
from grader.results import NOT_GRADED, GradeError, ItemResult, Report

__all__ = ["EMPTY", "MAX_DEPTH", "MAX_ZIP_BYTES", "MAX_ZIP_MEMBERS", "NOT_GRADED", "PUBLIC_CASES", "REFERENCE_SECONDS",
           "GradeError", "ItemResult", "Options", "Report", "assignments", "content_hash", "data_files",
           "expected_from_reference", "grade", "grade_item", "grade_many", "gradable", "item_rng", "items",
           "load_public_cases", "missing_modules", "reference_cases", "reference_resolve", "run_reference",
           "save_public_cases", "select_items", "snapshot", "submission_salt", "syntax_errors", "unpack"]
