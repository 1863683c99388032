"""Checks: small functions that compare arrays and return a `CheckResult`. They know no points.

A failure message names the array, the worst element (index, got, expected, relative error)
and, where the pattern of the error tells, the likely bug.
"""
from dataclasses import dataclass, replace

import numpy as np

# (rtol, atol) by dtype. Relative to the element, with an absolute floor that scales with the
# largest expected magnitude, so tiny entries of a large array do not fail on rounding alone.
TOLERANCE = {np.dtype("float64"): (1e-6, 1e-9), np.dtype("float32"): (2e-4, 1e-5)}
GRADCHECK_TOL = (1e-5, 1e-7)  # float64 central differences with h = 1e-6


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check of an item."""
    name: str
    passed: bool
    message: str = ""
    credit: float = None  # partial credit in [0, 1]; None means 1 if passed else 0
    gated: bool = False   # only meaningful once the values are right (purity, dtype, consistency)
    figures: tuple = ()   # `grader.reports.figures.Figure`s for the student's feedback
    # The message by hint level, for `dlgrade check`'s progressive hints (`grader.student.hints`):
    # ((1, the failing element), (2, the pattern of the error), (3, the known bug)), the levels
    # that have something to say; () when the whole message is level 1. `message` says them all.
    hints: tuple = ()

    def __post_init__(self):  # plain Python values (a check may compute a NumPy bool): JSON-ready
        object.__setattr__(self, "passed", bool(self.passed))
        object.__setattr__(self, "hints", tuple((int(level), str(text)) for level, text in self.hints))
        if self.credit is not None:
            object.__setattr__(self, "credit", float(self.credit))

    @property
    def fraction(self) -> float:
        return float(self.passed) if self.credit is None else self.credit


GATED_MESSAGE = "not graded until the values match the reference (fix the checks above first)"


def apply_gates(results):
    """Gated checks earn credit only when every value check of the item passed: code that
    computes nothing must not collect points for leaving its inputs alone or keeping a dtype."""
    if all(r.passed for r in results if not r.gated):
        return list(results)
    return [CheckResult(r.name, False, GATED_MESSAGE, gated=True) if r.gated else r for r in results]


def gated(result):
    """`result` marked as gated (see `apply_gates`)."""
    return replace(result, gated=True)


def levels(element, pattern="", bug=""):
    """`CheckResult.hints` of a failure: the failing element, the pattern of the error, the known bug."""
    return tuple((level, text) for level, text in ((1, element), (2, pattern), (3, bug)) if text)


def noted(result, note):
    """`result` with `note` after its message and after its level-1 hint text."""
    return replace(result, message=f"{result.message} {note}",
                   hints=tuple((lvl, f"{text} {note}" if lvl == 1 else text) for lvl, text in result.hints))


@dataclass(frozen=True)
class WrongType:
    """Stands for a value the student returned as something other than an array."""
    type_name: str


def fmt_index(idx):
    return "(" + ", ".join(str(int(i)) for i in idx) + ")" if len(idx) != 1 else f"({int(idx[0])},)"


def fmt_num(x):
    """A number as feedback shows it: 6 significant digits; -0 shown as 0 (the same value)."""
    return f"{x + 0.0:.6g}" if np.isfinite(x) else str(x)


def tolerance(dtype):
    return TOLERANCE.get(np.dtype(dtype), TOLERANCE[np.dtype("float32")])


def mismatch(name, got, expected, *, hints=True, **opts):
    """Why `got` differs from `expected`, or None when they agree (`explain`); `hints` adds the
    pattern of the error, when one is known."""
    message, pattern, full = explain(name, got, expected, **opts)
    return full if hints else message


def explain(name, got, expected, *, rtol=None, atol=None, check_dtype=True, terms=None):
    """(why `got` differs from `expected`, the pattern of the error or "", both in one message),
    or (None, "", None) when they agree.

    Checks presence, type, shape, dtype, finiteness and values, in that order. A non-finite value
    agrees only with the same non-finite value at the same position (inf with inf of its sign,
    NaN with NaN): an expected inf is not a wildcard. The pattern is the likely cause when the
    shape of the error tells one (`pattern_hint`); `terms` ({name: array of expected's shape})
    are arrays that may enter the expected value as an additive term (the W of a regularised
    gradient), so a factor on the rest can be named.
    """
    out = _why(name, got, expected, rtol, atol, check_dtype, terms)
    if out is None or isinstance(out, str):
        return out, "", out
    return out


def _why(name, got, expected, rtol, atol, check_dtype, terms):
    """`explain`'s message: None, a string, or (message, pattern, both) when a pattern is named."""
    if got is None:
        return f"{name}: missing from what your code returned"
    if isinstance(got, WrongType):
        return f"{name}: your code returned a {got.type_name}, expected a numpy array"
    got, expected = np.asarray(got), np.asarray(expected)
    if got.shape != expected.shape:
        msg = f"{name}: shape {got.shape}, expected {expected.shape}"
        if got.ndim == 2 and got.shape == expected.shape[::-1]:
            return msg, "looks transposed", msg + " (looks transposed)"
        return msg
    if check_dtype and got.dtype != expected.dtype:
        return (f"{name}: dtype {got.dtype}, expected {expected.dtype} "
                "(outputs and gradients keep the dtype of the input)")
    if expected.dtype.kind in "biu":
        bad = np.argwhere(got != expected)
        if len(bad):
            i = tuple(bad[0])
            return f"{name}: {len(bad)} wrong entries, first at index {fmt_index(i)}: got {got[i]}, expected {expected[i]}"
        return None
    d_rtol, d_atol = tolerance(expected.dtype)
    rtol = d_rtol if rtol is None else rtol
    atol = d_atol if atol is None else atol
    g, e = got.astype(np.float64), expected.astype(np.float64)
    special = non_finite_mismatch(name, g, e)
    if special:
        return special
    if not np.isfinite(rtol):  # shape, dtype and finiteness only
        return None
    finite = np.isfinite(e)  # where both are finite (the non-finite entries agree exactly)
    scale = float(np.abs(e[finite]).max(initial=0.0))
    with np.errstate(invalid="ignore"):
        err = np.where(finite, np.abs(g - e), 0.0)
    allowed = rtol * np.where(finite, np.abs(e), 0.0) + atol + rtol * 1e-3 * scale
    bad = err > allowed
    if not bad.any():
        return None
    i = np.unravel_index(np.argmax(err - allowed), e.shape)
    error = f"abs. error {err[i]:.2g}" if e[i] == 0 else f"rel. error {err[i] / abs(e[i]):.2g}"
    msg = (f"{name}: {int(bad.sum())} of {e.size} entries differ; worst at index {fmt_index(i)}: "
           f"got {fmt_num(g[i])}, expected {fmt_num(e[i])} ({error})")
    hint = pattern_hint(g, e, rtol, terms) if finite.all() else ""
    return (msg, hint, f"{msg}; {hint}") if hint else msg


def non_finite_mismatch(name, g, e):
    """Why the non-finite entries of float arrays `g` and `e` (same shape) differ, or "": each
    must be the same non-finite value at the same position."""
    fg, fe = np.isfinite(g), np.isfinite(e)
    if fg.all() and fe.all():
        return ""
    same = ~fe & ((g == e) | (np.isnan(g) & np.isnan(e)))
    overflow = ~fg & fe  # got inf or NaN where the reference is finite
    if overflow.any():
        i = tuple(np.argwhere(overflow)[0])
        return (f"{name}: {int(overflow.sum())} non-finite values, first at index {fmt_index(i)}: "
                f"got {g[i]}, expected {fmt_num(e[i])} (overflow, or log/division by zero: use a numerically stable form)")
    wrong = ~fe & ~same
    if wrong.any():
        i = tuple(np.argwhere(wrong)[0])
        return (f"{name}: {int(wrong.sum())} entries differ where the expected value is not finite, first at index "
                f"{fmt_index(i)}: got {fmt_num(g[i])}, expected {fmt_num(e[i])}")
    return ""


def shape_dtype(name, got, shape, dtype):
    """Why `got` is not an array of `shape` and `dtype`, or None."""
    if got is None or isinstance(got, WrongType):
        return mismatch(name, got, np.zeros(shape, dtype))
    if np.shape(got) != tuple(shape) or np.asarray(got).dtype != np.dtype(dtype):
        return f"{name}: shape {np.shape(got)} and dtype {np.asarray(got).dtype}, expected {tuple(shape)} and {np.dtype(dtype)}"
    return None


def pattern_hint(got, expected, rtol=1e-4, terms=None):
    """Name a global pattern in the error: a constant factor, a transpose, zeros, or (with `terms`)
    a factor on all but an additive term (a missing 1/N in a gradient with regularisation)."""
    if expected.size < 2 or not expected.any():
        return ""
    if not got.any():
        return "got all zeros"
    if got.ndim == 2 and got.shape[0] == got.shape[1] and np.allclose(got, expected.T, rtol=rtol):
        return "it equals the expected array transposed"
    flat_e, flat_g = expected.ravel(), got.ravel()
    c = float(flat_g @ flat_e / (flat_e @ flat_e))
    if abs(c - 1) > 1e-3 and abs(c) > 1e-12 and np.allclose(flat_g, c * flat_e, rtol=max(rtol, 1e-4), atol=1e-12):
        if abs(c + 1) < 1e-3:
            return "the sign is flipped"
        return f"it is the expected array times {c:.4g} (a missing or extra constant factor)"
    for key, term in (terms or {}).items():
        hint = term_hint(flat_g, flat_e, np.asarray(term, dtype=np.float64), key, rtol)
        if hint:
            return hint
    return ""


def term_hint(g, e, term, key, rtol=1e-4):
    """When g = a (e - r) + r with r = c * `term` (a term of e, such as a regularisation gradient
    2 reg W) and a != 1, or g = e + b * term: which part of the expected value is off, and by what."""
    t = term.ravel()
    if t.shape != e.shape or not np.isfinite(t).all() or not t.any():
        return ""
    basis = np.stack([e, t], axis=1)
    (a, b), *_ = np.linalg.lstsq(basis, g, rcond=None)
    fit = a * e + b * t
    if not np.allclose(g, fit, rtol=max(rtol, 1e-4), atol=1e-12 + 1e-9 * float(np.abs(e).max())):
        return ""
    if abs(a - 1) > 1e-3 and abs(a) > 1e-12:
        c = b / (1 - a)  # g = a * e + (1 - a) * c * t = a * (e - c t) + c t
        if abs(c) < 1e-12:
            return ""
        return (f"the term {c:.4g} * {key} (the regularisation gradient) is right, but the rest (the data term) is "
                f"the expected one times {a:.4g} (a missing or extra constant factor such as 1/N)")
    if abs(a - 1) <= 1e-3 and abs(b) > 1e-12:
        return f"it differs from the expected array by {b:.4g} * {key}: the term in {key} (the regularisation gradient) is off"
    return ""


def numerical_gradient(f_rows, dy, h):
    """Central differences: f_rows (2*n, *y.shape) at x_i +/- h -> d<sum f*dy>/dx_i, shape (n,)."""
    f_rows = np.asarray(f_rows, dtype=np.float64)
    plus, minus = f_rows[0::2], f_rows[1::2]
    with np.errstate(invalid="ignore", over="ignore"):  # a forward that overflows gives NaN here: reported
        return ((plus - minus) * np.asarray(dy, dtype=np.float64)).reshape(len(plus), -1).sum(axis=1) / (2 * h)


def same_tree(check, got, expected, what):
    """Inputs must come back unchanged (purity): every array in `expected` equals `got`."""
    for key, exp in expected.items():
        g = got.get(key) if isinstance(got, dict) else None
        if isinstance(exp, dict):
            result = same_tree(check, g or {}, exp, f"{what}[{key!r}]")
            if not result.passed:
                return result
            continue
        if g is None or np.shape(g) != np.shape(exp) or not np.array_equal(g, exp, equal_nan=True):
            return CheckResult(check, False, f"{what}[{key!r}] was modified in place "
                                             "(work on copies: do not write into inputs or params)")
    return CheckResult(check, True)


def case_dtype(inputs):
    """The floating dtype a case is about: that of x, or of its params for integer inputs."""
    x = inputs.get("x")
    if x is not None and np.asarray(x).dtype.kind == "f":
        return np.asarray(x).dtype
    for v in inputs.get("params", {}).values():
        return np.asarray(v).dtype
    return np.dtype("float64")
