"""The `dlgrade` command line: thin click wiring over `grader.engine` and friends.

`base` holds what every command shares, `student` the student's commands (`list`, `check`,
`submit`, `data`), `instructor` the instructor's (`grade`, `release`, `nbgrader`) and `review`
the instructor's reviews of a class (`similarity`). A student kit's wheel holds neither
`instructor` nor `review` (grader/release/wheel.py), so its `dlgrade` has the student's commands
only: nothing is removed at run time.
"""
from importlib.util import find_spec

from grader.cli import student  # noqa: F401  (registers the student's commands on `main`)
from grader.cli.base import main

if find_spec("grader.cli.instructor") is not None:  # an instructor's install, never a kit's
    from grader.cli import instructor  # noqa: F401
if find_spec("grader.cli.review") is not None:  # the same: an instructor's install only
    from grader.cli import review  # noqa: F401

__all__ = ["main"]
