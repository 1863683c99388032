"""Case families: random inputs, the float32 copy of a float64 case, and the perturbation calls of a
numerical gradient check. `Case` is one family of an item's cases; `float32_copies` adds the copies."""
from typing import NamedTuple

import numpy as np

from grader.sandbox.calls import Call
from grader.items.verdicts import dig

H = 1e-6  # central-difference step for float64 gradient checks


class Case(NamedTuple):
    """One case of an item: its `tag` (named in every message about it), its worker `inputs`, the
    `spec` entries of its call (kwargs, seed, ...), whether it is a float64 case (`float64`: it gets
    a float32 copy) and whether it gets a numerical gradient check (`gradcheck`, float64 only)."""
    tag: str
    inputs: dict
    spec: dict = {}
    float64: bool = True
    gradcheck: bool = False


def float32_copies(cases):
    """`cases` followed by a float32 copy of each float64 case (tag `<tag>, float32`, floating inputs
    as float32, no gradient check), in the same order."""
    return list(cases) + [Case(c.tag + F32, as_float32(c.inputs), c.spec, False, False) for c in cases if c.float64]


MAX_PERTURBED = 24  # elements of each array moved in a numerical gradient check


def perturbation(driver, spec, inputs, wrt, rng, case):
    """A `<driver>` call (a *_perturbed driver) for central differences of case `case` at up to
    `MAX_PERTURBED` elements of each key in `wrt` (chosen by `rng`; all of a small array)."""
    index = {}
    for key in wrt:
        n = int(np.size(dig(inputs, key.split("/"))))
        index[key] = sorted(int(i) for i in rng.choice(n, MAX_PERTURBED, replace=False)) if n > MAX_PERTURBED \
            else list(range(n))
    return Call(driver, {**spec, "h": H, "wrt": list(wrt), "index": index, "case": case}, inputs)


def randn(rng, shape, dtype=np.float64, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def away_from_zero(rng, shape, dtype=np.float64, gap=0.05):
    """Normal samples with |x| >= gap, so kinks (ReLU at 0) never sit inside a finite difference."""
    x = rng.standard_normal(shape)
    x = np.where(np.abs(x) < gap, np.sign(x + 1e-12) * (gap + np.abs(x)), x)
    return x.astype(dtype)


CASES = (  # (tag, shape, dtype): random, batch of one with odd sizes, float32
    ("random", (4, 5), np.float64),
    ("batch of 1, odd width", (1, 7), np.float64),
    ("float32", (3, 6), np.float32),
)


def as_float32(x):
    """Floating arrays as float32; integer arrays (labels, indices) unchanged."""
    if isinstance(x, dict):
        return {k: as_float32(v) for k, v in x.items()}
    return x.astype(np.float32) if np.asarray(x).dtype.kind == "f" else x


F32 = ", float32"  # tag suffix of the float32 copy of a float64 case
# The float32 copy of a scaled case (inputs x1000) is ill-conditioned in float32 (cancellation in
# sums of terms a thousand times larger than the result), so its values only have to be finite
# and of the right shape; its dtype is checked as everywhere.
SCALED_F32 = {"rtol": np.inf}


def opts_for(tag, scaled_tags):
    return SCALED_F32 if tag.endswith(F32) and tag[:-len(F32)] in scaled_tags else {}
