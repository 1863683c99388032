"""Code that computes nothing: every function returns its inputs unchanged (an input of the output's shape)."""
# file: *
# include: shared/do_nothing.py
# affects: *
# score: 0

_hollow_module(globals(), _identity)
