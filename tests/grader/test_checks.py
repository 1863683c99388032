"""Checks compare arrays and name the worst element and the likely bug."""
import numpy as np
import pytest

from grader.items import checks as C

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


# --------------------------------------------------------------------------- issue 19: non-finite values, terms
INF = np.array([1.0, np.inf, -np.inf, np.nan])


@pytest.mark.parametrize("got, agrees", [
    (INF.copy(), True),
    (np.array([1.0, np.inf, -np.inf, np.nan]) * (1 + 1e-9), True),
    (np.array([1.0, 5.0, -np.inf, np.nan]), False),        # finite where inf is expected
    (np.array([1.0, -np.inf, -np.inf, np.nan]), False),    # the other sign
    (np.array([1.0, np.inf, -np.inf, 0.0]), False),        # finite where NaN is expected
    (np.array([1.0, np.nan, -np.inf, np.nan]), False),     # NaN where inf is expected
    (np.array([2.0, np.inf, -np.inf, np.nan]), False),     # the finite entry differs
], ids=["same", "rounding", "finite-for-inf", "sign", "finite-for-nan", "nan-for-inf", "finite-entry"])
def test_non_finite_values_agree_only_with_the_same_value_in_the_same_place(got, agrees):
    assert (C.mismatch("loss", got, INF) is None) == agrees


@pytest.mark.parametrize("rtol", [None, np.inf], ids=["values", "finiteness-only"])
def test_an_expected_inf_is_no_wildcard(rtol):
    """A finite answer never matches an inf (the known bug that overflows), whatever the tolerance."""
    msg = C.mismatch("loss", np.array(27.6), np.array(np.inf), rtol=rtol)
    assert msg and "got 27.6, expected inf" in msg


def test_finite_entries_are_compared_beside_non_finite_ones():
    """An inf in the expected array neither widens the tolerance of the others (scale) nor hides them."""
    e = np.array([np.inf, 1.0, 2.0])
    assert "index (2,)" in C.mismatch("y", np.array([np.inf, 1.0, 2.5]), e)


REG = 0.1
W = rng.standard_normal((5, 4))
DATA = rng.standard_normal((5, 4))


@pytest.mark.parametrize("got, words", [
    (6 * DATA + 2 * REG * W, "the term 0.2 * W (the regularisation gradient) is right, but the rest (the data term) "
                             "is the expected one times 6"),
    (DATA + REG * W, "differs from the expected array by -0.1 * W"),
    (6 * (DATA + 2 * REG * W), "times 6 (a missing or extra constant factor)"),
    (DATA + 2 * REG * W + rng.standard_normal((5, 4)), None),
], ids=["data-term-factor", "reg-term-off", "pure-factor", "unrelated"])
def test_a_factor_on_the_data_term_beside_a_right_regularisation_term_is_named(got, words):
    msg = C.mismatch("dW", got, DATA + 2 * REG * W, terms={"W": W})
    assert msg
    if words:
        assert words in msg, msg
    else:
        assert "W (the regularisation" not in msg and "times" not in msg, msg


def test_no_term_hint_without_terms():
    msg = C.mismatch("dW", 6 * DATA + 2 * REG * W, DATA + 2 * REG * W)
    assert msg and "regularisation" not in msg and "times" not in msg


def test_compare_names_a_known_bug_only_when_the_output_matches_it():
    from grader.items import compare
    e = np.array([1.0, 2.0, 1000.0])
    bug = np.array([1.0, 2.0, np.inf])       # the known bug overflows on the last entry
    small = e * (1 + 5e-6)                   # a known bug 5e-6 away from the reference

    def check(got, alt):
        return compare("values", [("loss", got, e, {}, [("the bug", alt)])]).message

    assert "likely bug: the bug" not in check(np.array([1.0, 2.0, 27.6]), bug)   # finite: not that bug
    assert "likely bug: the bug" in check(np.array([1.0, 2.0, np.inf]), bug)
    assert "likely bug: the bug" in check(small.copy(), small)                     # however small the error
