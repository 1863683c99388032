"""What grading says about a submission: the result of each item and the report that holds them.

The engine makes them; reporters (`grader.reports`), the CLI and exports read them without
importing the engine.
"""
from dataclasses import dataclass, field

from grader.items.checks import GATED_MESSAGE

STATUSES = ("passed", "partial", "failed", "error", "timeout", "not_attempted")

NOT_GRADED = "not graded: the submission as a whole could not be graded (see its error)"


class GradeError(Exception):
    """A submission or assignment that cannot be graded at all (one-line message)."""


@dataclass
class ItemResult:
    id: str
    score: float
    max_score: float
    status: str
    visibility: str
    output: str
    checks: list = field(default_factory=list)
    trained: bool = False  # graded from submitted weights (accuracy, nats/char, ...); not in to_dict


@dataclass
class Report:
    assignment: str
    submission: str
    items: list
    error: str = ""
    salt_id: str = ""  # which salt drew the cases (`secret.run_salt`): the same id, the same cases

    @property
    def score(self) -> float:
        return round(sum(i.score for i in self.items), 4)

    @property
    def max_score(self) -> float:
        return round(sum(i.max_score for i in self.items), 4)

    def to_dict(self) -> dict:
        out = {"assignment": self.assignment, "submission": self.submission,
               "score": self.score, "max_score": self.max_score,
               "items": [{"id": i.id, "score": i.score, "max_score": i.max_score, "status": i.status,
                          "visibility": i.visibility, "output": i.output} for i in self.items]}
        if self.error:
            out["error"] = self.error
        if self.salt_id:
            out["salt_id"] = self.salt_id
        return out


NOT_RUN = "not graded until the values above match the reference"  # gated checks of a failed item


def not_run(check) -> bool:
    """Whether a check was not run because an earlier check of its item failed (`apply_gates`)."""
    return check.gated and not check.passed and check.message == GATED_MESSAGE


def render_checks(checks) -> str:
    lines = []
    skipped = [c.name for c in checks if not_run(c)]
    for c in checks:
        if c.name in skipped:
            continue
        mark = "✓" if c.passed else ("~" if c.fraction > 0 else "✗")
        lines.append(f"{mark} {c.name}" + (f": {c.message}" if c.message and (not c.passed or c.credit is not None) else ""))
    if skipped:
        lines.append(f"✗ {NOT_RUN}: {'; '.join(skipped)}")
    return "\n".join(lines)


