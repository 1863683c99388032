"""`grader.data`: the import path the course's training scripts use (`from grader.data import ...`),
kept stable for released kits; the code lives in `grader.student.data`."""
from grader.student.data import *  # noqa: F401,F403
