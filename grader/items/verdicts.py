"""Verdicts on a case's outputs: `pair`s of (student, reference) values, `compare` naming a known
bug, `dtypes` and `purity_of` (gated), and a backward item's `forward_broken`."""
import numpy as np

from grader.items import checks as C
from grader.items.checks import CheckResult

TERMS = ("W", "w")  # inputs that may enter an expected gradient as an additive term (2 reg W)


def pair(name, got, expected, alternatives=(), path=(), **opts):
    """A (name, got, expected, opts, [(hint, alternative)]) tuple for `compare`, looked up by key path.

    The case's weights (`TERMS`, as the reference's driver returned them under `after/`) of the
    expected value's shape go to `checks.mismatch` as `terms`: a factor on the data term of a
    regularised gradient is then named."""
    exp = dig(expected, path)
    if "terms" not in opts and exp is not None:
        after = dig(expected, ("after",)) or {}
        terms = {k: v for k, v in {**(after.get("params") or {}), **after}.items()
                 if k in TERMS and isinstance(v, np.ndarray) and v.dtype.kind == "f" and v.shape == np.shape(exp)}
        if terms:
            opts["terms"] = terms
    return name, dig(got, path), exp, opts, [(hint, dig(alt, path)) for hint, alt in alternatives]


# Loosest agreement with a known bug's output in a family checked for finiteness only (rtol inf):
# its finite entries must still match for the bug to be named.
ALT_RTOL = 1e-2


def compare(check, pairs):
    """One check over several `pair`s: passes when all agree (`checks.mismatch`). When one fails,
    a known bug is named when the student's output matches that bug's output on that pair
    (non-finite entries at the same places with the same values, finite ones within tolerance),
    however small the error against the reference; else the generic pattern hint. Values only:
    dtypes are the `dtypes` check's business. The result's `hints` hold the failing element, the
    pattern (also when a known bug is named instead) and the known bug apart."""
    for name, got, expected, opts, alts in pairs:
        opts = {"check_dtype": False, **opts}
        msg, pattern, full = C.explain(name, got, expected, **opts)
        if msg:
            for hint, alt in alts:
                if alt is not None and matches_bug(name, got, alt, opts):
                    return CheckResult(check, False, f"{msg}; likely bug: {hint}",
                                       hints=C.levels(msg, pattern, f"likely bug: {hint}"))
            return CheckResult(check, False, full, hints=C.levels(msg, pattern))
    return CheckResult(check, True)


def matches_bug(name, got, alt, opts):
    """Whether the student's output agrees with a known bug's (an inf or NaN of the bug's matches
    only the same value in the same place; a finiteness-only family still compares finite entries)."""
    opts = {k: v for k, v in opts.items() if k != "terms"}
    if not np.isfinite(opts.get("rtol", 0.0)):
        opts["rtol"] = ALT_RTOL
    return C.mismatch(name, got, alt, **opts, hints=False) is None


def dtypes(check, pairs):
    """Every output has the dtype of its expected value (float32 in, float32 out). Gated: it
    speaks only once the values are right."""
    for name, got, expected, _, _ in pairs:
        if got is None or expected is None or isinstance(got, C.WrongType):
            continue
        g, e = np.asarray(got).dtype, np.asarray(expected).dtype
        if g != e:
            return CheckResult(check, False, f"{name}: dtype {g}, expected {e} (outputs and gradients keep "
                                             "the dtype of the input: no silent float64 promotion)", gated=True)
    return CheckResult(check, True, gated=True)


def dig(tree, path):
    """The value at key path `path` of a nested dict, or None where the path does not exist."""
    for key in path:
        if not isinstance(tree, dict) or key not in tree:
            return None
        tree = tree[key]
    return tree


def forward_broken(got, expected, tag, path=("0", "y")):
    """For a backward item: why this case's failure is the forward's (an output of the wrong
    shape, on which the grader did not run backward, or non-finite values where the reference's are
    finite), so the backward is not blamed for it; None otherwise."""
    node = dig(got, path[:-1]) if len(path) > 1 else got
    shape = dig(node, ("forward_shape",))
    if shape is not None:
        what = ["y", "h_next", "c_next"][int(dig(node, ("forward_shape_of",)) or 0)]
        shown = "not an array" if list(np.ravel(shape)) == [-1] else f"shape {tuple(int(v) for v in np.ravel(shape))}"
        want = np.shape(dig(expected, path[:-1] + (what,)) if len(path) > 1 else expected.get(what))
        return (f"[{tag}]: your forward returned {what} of {shown}, but the contract says {tuple(want)}: the "
                "grader feeds backward an upstream gradient of the contract's shape, so fix forward first")
    y, e = dig(got, path), dig(expected, path)
    if y is None or e is None or isinstance(y, C.WrongType) or np.shape(y) != np.shape(e):
        return None
    y, e = np.asarray(y, dtype=np.float64), np.asarray(e, dtype=np.float64)
    if np.isfinite(e).all() and not np.isfinite(y).all():
        return f"[{tag}]: your forward pass returns non-finite values on this case; fix forward first"
    return None


def label(path):
    """A student-facing name for an output path: ("0", "grads", "W") -> "dW", ("0", "y") -> "y",
    ("0", "state", "c") -> 'state["c"] after the call'."""
    if len(path) > 1 and path[-2] == "grads":
        return "d" + path[-1]
    if len(path) > 1 and path[-2] == "state":
        return f'state["{path[-1]}"] after the call'
    return path[-1]


def per_call(alternatives, i):
    return [(hint, alt[i]) for hint, alt in alternatives if alt[i] is not None]


def purity_of(calls, got, cases, skip=()):
    """Every input of every case comes back unchanged (`after/...`), except the `skip` keys."""
    for i in cases:
        sent = {k: v for k, v in calls[i].inputs.items() if k not in skip}
        result = C.same_tree("does not modify its inputs", got[i].get("after", {}), sent, "input")
        if not result.passed and result.message.startswith("input['state']"):
            result = CheckResult(result.name, False, result.message.replace(
                "(work on copies: do not write into inputs or params)",
                "(replace the state's arrays with new ones: do not write into them)"))
        if not result.passed:
            return result
    return CheckResult("does not modify its inputs", True)
