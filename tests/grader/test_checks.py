"""Checks compare arrays and name the worst element and the likely bug."""
import numpy as np
import pytest

from grader import checks as C

rng = np.random.default_rng(0)
E = rng.standard_normal((4, 3))


@pytest.mark.parametrize("got, expected_words", [
    (E.copy(), None),
    (E * (1 + 1e-9), None),
    (None, "missing"),
    (E.T, "looks transposed"),
    (E.astype(np.float32), "dtype float32, expected float64"),
    (np.where(E > 1, np.inf, E), "non-finite"),
    (-E, "sign is flipped"),
    (E / 4, "times 0.25"),
    (np.zeros_like(E), "all zeros"),
], ids=["equal", "rounding", "missing", "transposed", "dtype", "overflow", "sign", "factor", "zeros"])
def test_mismatch_names_the_problem(got, expected_words):
    msg = C.mismatch("dW", got, E)
    if expected_words is None:
        assert msg is None
    else:
        assert msg is not None and expected_words in msg and msg.startswith("dW")


def test_mismatch_reports_worst_element():
    got = E.copy()
    got[2, 1] += 0.5
    got[0, 0] += 0.01
    msg = C.mismatch("y", got, E)
    assert "index (2, 1)" in msg and "2 of 12 entries differ" in msg


def test_square_transpose_is_named():
    e = rng.standard_normal((3, 3))
    assert "transposed" in C.mismatch("dW", e.T, e)


def test_numerical_gradient_of_a_known_function():
    x = rng.standard_normal(5)
    dy = rng.standard_normal(5)
    h = 1e-6
    rows = np.stack([np.sin(x + s * h * np.eye(5)[i]) for i in range(5) for s in (1, -1)])
    assert np.allclose(C.numerical_gradient(rows, dy, h), np.cos(x) * dy, rtol=1e-6)


def test_same_tree_detects_in_place_writes():
    x = rng.standard_normal(3)
    assert C.same_tree("purity", {"x": x.copy()}, {"x": x}, "input").passed
    changed = x.copy()
    changed[0] = 0
    result = C.same_tree("purity", {"x": changed}, {"x": x}, "input")
    assert not result.passed and "modified in place" in result.message


def test_no_factor_hint_for_a_factor_of_one():
    """A mismatch in a few entries of an otherwise equal array is not "times 1"."""
    got = E.copy()
    got[0, 0] += 1e-3
    msg = C.mismatch("y", got, E)
    assert msg and "times" not in msg


def test_error_against_an_expected_zero_is_absolute():
    expected = np.array([0.0, 1.0, 2.0])
    msg = C.mismatch("dx", np.array([0.5, 1.0, 2.0]), expected)
    assert "abs. error 0.5" in msg and "rel." not in msg


def test_gated_checks_earn_nothing_until_values_pass():
    value = C.CheckResult("values", False, "wrong")
    purity = C.CheckResult("purity", True, gated=True)
    gated = C.apply_gates([value, purity])
    assert not gated[1].passed and gated[1].message == C.GATED_MESSAGE
    assert C.apply_gates([C.CheckResult("values", True), purity])[1].passed
