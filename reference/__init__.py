"""Trusted reference implementations: the grader's oracle. NumPy/CuPy agnostic."""
