"""Code that computes nothing: every function returns zeros of the right shape and dtype."""
# file: *
# include: shared/do_nothing.py
# affects: *
# score: 0

_hollow_module(globals(), _zeros)
