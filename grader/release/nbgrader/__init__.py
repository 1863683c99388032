"""nbgrader, both ways (docs/nbgrader.md).

- `source`: the source notebooks generated from `solutions/` (`dlgrade release A --nbgrader
  COURSE`: `release`, `source_notebook`, `grade_id`);
- `intake`: what the trusted path reads from `submitted/<student>/<a>/`, and how (`read_member`,
  `parse_notebook`, `extract_modules`, `feedback_cells`): the notebook is never executed;
- `autograde`: `dlgrade nbgrader autograde COURSE A` (`autograde`): grading in sandboxed workers,
  nbgrader's gradebook, the feedback notebooks (`feedback_notebook`).
"""
from grader.release.nbgrader.autograde import Graded, autograde, feedback_notebook
from grader.release.nbgrader.source import grade_id, release, source_notebook

__all__ = ["Graded", "autograde", "feedback_notebook", "grade_id", "release", "source_notebook"]
