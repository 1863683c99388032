"""The course as the engine sees it: its assignments, each one's graded items, and the random
generator an item draws its cases from."""
import hashlib

import numpy as np

from grader import course
from grader.results import GradeError


def assignments() -> tuple:
    """The course's assignments in course order, discovered from its files (`grader.course`)."""
    return course.discover()


def items(assignment: str) -> list:
    """The graded items of an assignment, in order."""
    try:
        return course.load(assignment).ITEMS
    except course.CourseError as exc:
        raise GradeError(str(exc)) from None


def item_rng(item_id: str, salt: str) -> np.random.Generator:
    digest = hashlib.sha256(f"{salt}:{item_id}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))

