"""The course's item registries, one module per assignment (`grader.assignments.<a>`).

In a course repository they are imported from `solutions/<a>/grading.py` (see
`grader.course`); a student kit's tool carries copies here as `<a>.py`.
"""
from ..course import install_finder

install_finder()
