"""The `cnn` and `autoencoder` cases reach every corner of the contract's allowed region, and the
families written to trigger a condition trigger it by construction at every salt (issue 19,
classes 1-3; docs/clauses.md, rows conv-geometry, pool-geometry, convt-geometry, *-defaults).

Corners are predicates on a case's hyperparameters and input shape; each must hold for some case of
the forward item, of the backward item, and of a float64 backward case (the gradient check runs on
float64 cases only). Condition families are checked on the cases each item draws with
`engine.item_rng(item.id, salt)` for 20 salts.
"""
import numpy as np
import pytest

from grader import engine
from grader.assignments.cnn import TIE_TAG
from grader.items import F32
from grader.items import as_pair as pair

SALTS = [f"salt-{i}" for i in range(20)]
ITEMS = {i.id: i for a in ("cnn", "autoencoder") for i in engine.items(a)}


def geometry(kwargs, x):
    """(KH, KW, S, P, OP, H, W) of a case (the contract's defaults where an argument is left out)."""
    kernel = kwargs.get("kernel_size", 1)
    kh, kw = pair(kernel)
    sh, sw = pair(kwargs.get("stride", 1 if "out_channels" in kwargs else kernel))
    return kh, kw, sh, sw, kwargs.get("padding", 0), kwargs.get("output_padding", 0), *x.shape[2:]


def conv_leftover(kh, kw, sh, sw, p, op, h, w):
    """An input row and column (not padding) that no window reads."""
    return (h + 2 * p - kh) % sh > p and (w + 2 * p - kw) % sw > p


CONV = {
    "stride and padding left at their defaults": lambda k, g: "stride" not in k and "padding" not in k,
    "padding 0": lambda k, g: g[4] == 0,
    "padding >= kernel size at stride 1": lambda k, g: g[2] == 1 and g[4] >= min(g[0], g[1]),
    "stride > kernel": lambda k, g: g[2] > g[0] and g[3] > g[1],
    "stride < kernel (overlapping windows)": lambda k, g: g[2] < g[0],
    "input rows and columns left over, padding 0": lambda k, g: g[4] == 0 and conv_leftover(*g),
    "input rows and columns left over, padding >= 1": lambda k, g: g[4] >= 1 and conv_leftover(*g),
    "KH < KW": lambda k, g: g[0] < g[1],
    "KH > KW": lambda k, g: g[0] > g[1],
}
POOL = {
    "stride left at its default": lambda k, g: "stride" not in k,
    "stride < kernel (overlapping)": lambda k, g: g[2] < g[0] and g[3] < g[1],
    "stride = kernel": lambda k, g: (g[2], g[3]) == (g[0], g[1]),
    "stride > kernel": lambda k, g: g[2] > g[0] and g[3] > g[1],
    "stride = kernel with rows and columns left over": lambda k, g: (g[2], g[3]) == (g[0], g[1])
    and (g[6] - g[0]) % g[2] and (g[7] - g[1]) % g[3],
    "a pair kernel": lambda k, g: isinstance(k["kernel_size"], list),
    "a stride above the kernel along one axis only": lambda k, g: (g[2] > g[0]) != (g[3] > g[1]),
}
CONVT = {
    "stride, padding and output_padding left at their defaults":
        lambda k, g: not {"stride", "padding", "output_padding"} & set(k),
    "padding 0": lambda k, g: g[4] == 0,
    "padding > kernel size - 1": lambda k, g: g[4] > min(g[0], g[1]) - 1,
    "stride > kernel (gaps)": lambda k, g: g[2] > g[0] and g[3] > g[1],
    "KH < KW": lambda k, g: g[0] < g[1],
    "KH > KW": lambda k, g: g[0] > g[1],
}
OUTPUT_PADDING = {
    "1 <= output_padding < padding": lambda k, g: 1 <= g[5] < g[4],
    "1 <= output_padding = padding": lambda k, g: 1 <= g[5] == g[4],
    "output_padding > padding": lambda k, g: g[5] > g[4],
    "output_padding > padding = 0": lambda k, g: g[5] > g[4] == 0,
    "output_padding > padding >= 1": lambda k, g: g[5] > g[4] >= 1,
}
UPSAMPLE = {
    "scale_factor left at its default": lambda k, g: "scale_factor" not in k,
    "an int scale": lambda k, g: isinstance(k.get("scale_factor"), int),
    "a pair scale": lambda k, g: isinstance(k.get("scale_factor"), list),
    "a pair scale with SH > SW": lambda k, g: isinstance(k.get("scale_factor"), list) and k["scale_factor"][0] > k["scale_factor"][1],
}
CORNERS = [
    ("cnn.conv", CONV), ("cnn.maxpool", POOL), ("cnn.avgpool", POOL), ("autoencoder.conv_transpose", CONVT),
    ("autoencoder.upsample", UPSAMPLE),
]
PARTS = ("forward", "backward", "gradient check")


def reached(item_id, predicate, part):
    item = ITEMS[item_id]
    for case in item.all_cases(engine.item_rng(item.id, "corners")):
        tag, kwargs, x = case.tag, case.spec["kwargs"], case.inputs["x"]
        if part == "gradient check" and (tag.endswith(F32) or x.dtype != np.float64 or tag in item.no_gradcheck):
            continue
        if predicate(kwargs, geometry(kwargs, x)):
            return True
    return False


@pytest.mark.parametrize("key, corner, part", [(key, c, p) for key, corners in CORNERS for c in corners for p in PARTS],
                         ids=[f"{key}-{c}-{p}" for key, corners in CORNERS for c in corners for p in PARTS])
def test_corner_reached(key, corner, part):
    corners = dict(CORNERS)[key]
    item_id = f"{key}.{'forward' if part == 'forward' else 'backward'}"
    assert reached(item_id, corners[corner], part), f"no {part} case of {item_id} has {corner}"


@pytest.mark.parametrize("corner", sorted(OUTPUT_PADDING))
@pytest.mark.parametrize("item_id, part", [("autoencoder.conv_transpose.forward", "forward"),
                                           ("autoencoder.conv_transpose.output_padding", "backward"),
                                           ("autoencoder.conv_transpose.output_padding", "gradient check")])
def test_output_padding_corner_reached(item_id, part, corner):
    """output_padding's forward is graded by the forward item, its backward by the hidden item."""
    assert reached(item_id, OUTPUT_PADDING[corner], part), f"no {part} case of {item_id} has {corner}"


def test_a_missing_corner_is_noticed():
    assert not reached("autoencoder.conv_transpose.backward", OUTPUT_PADDING["output_padding > padding"], "backward")


@pytest.mark.parametrize("salt", SALTS)
def test_tie_family_ties_by_construction(salt):
    """The ties family holds a tied maximum in the first window of every sample and channel (where
    the first-maximum rule decides), at every salt."""
    for item_id in ("cnn.maxpool.forward", "cnn.maxpool.backward"):
        item = ITEMS[item_id]
        ties = [(c.spec["kwargs"], c.inputs["x"]) for c in item.all_cases(engine.item_rng(item_id, salt))
                if c.tag.startswith(TIE_TAG)]
        assert len(ties) == 2  # float64 and its float32 copy
        for kwargs, x in ties:
            kh, kw = pair(kwargs["kernel_size"])
            first = x[:, :, :kh, :kw].reshape(*x.shape[:2], -1)
            assert ((first == first.max(axis=-1, keepdims=True)).sum(axis=-1) >= 2).all()


@pytest.mark.parametrize("salt", SALTS)
def test_distinct_families_have_no_ties(salt):
    """Every other pooling family has values at least 0.05 apart: no ties, so the finite
    differences of the gradient check (steps far below 0.05) never cross a window's maximum."""
    for item_id in ("cnn.maxpool.backward", "cnn.avgpool.backward"):
        item = ITEMS[item_id]
        for tag, x in ((c.tag, c.inputs["x"]) for c in item.all_cases(engine.item_rng(item_id, salt))):
            if not tag.startswith(TIE_TAG):
                v = np.sort(x.astype(np.float64).ravel())
                assert np.diff(v).min() >= 0.05, tag
