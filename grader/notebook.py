"""What the test cells of dlgrade's nbgrader notebooks call: `score("mlp.linear.forward")`.

The cell's code runs in a separate worker process, as with `dlgrade check`; this function prints
what passed and returns the item's score, which is the cell's last expression, so nbgrader gives
partial credit. Warnings and anything written to stderr are sent to stdout while it runs (any
stderr output would make nbgrader give the cell 0). With the reference installed (the
instructor's environment, as under `nbgrader autograde`) the item is graded like `dlgrade
grade`; in a student's environment it runs the public cases shipped next to the notebook.

This runs inside the student's kernel, so a notebook can replace it: use `dlgrade nbgrader
autograde` (which never runs the notebook) when grades matter.
"""
import contextlib
import importlib.util
import sys
import warnings
from pathlib import Path


def _reference_available() -> bool:
    try:
        return importlib.util.find_spec("reference") is not None
    except (ImportError, ValueError):
        return False


def score(item_id: str, folder: str = ".") -> float:
    """Grade one item on the modules in `folder`; print the checks; return the points earned."""
    from . import api, data
    assignment = item_id.split(".")[0]
    item = {i.id: i for i in api.items(assignment)}.get(item_id)
    if item is None:
        raise KeyError(f"no item {item_id!r} in {assignment}")
    with warnings.catch_warnings(), contextlib.redirect_stderr(sys.stdout):
        warnings.simplefilter("ignore")
        if _reference_available():
            opts = api.Options(mode="grade")
        else:
            data.DOWNLOADS_ALLOWED = False
            try:
                public = api.load_public_cases(Path(folder))
            except api.GradeError as exc:
                print(exc)
                return 0.0
            if item_id not in public and not getattr(item, "trusted", False):
                print(f"{item_id} is graded by your instructor")
                return 0.0
            opts = api.Options(mode="check", public=public)
        result = api.grade_item(item, Path(folder), opts)
    print(f"{item_id}: {result.status}, {result.score:g} / {result.max_score:g} points")
    if result.output:
        print(result.output)
    return result.score
