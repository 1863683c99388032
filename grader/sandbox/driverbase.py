"""The drivers' registry (`DRIVERS`, `@driver`; `PLANS`, `@planner`, `plan_call`) and the helpers
drivers share: the wire's list form (`indexed`), the array module of an input (`xp_of`), seeded
generators (`make_rng`), central-difference perturbations (`perturb_all`). NumPy only (and
`cost.py`): the worker imports these files as its private package `_dlgrade`, the trusted parent
as `grader.sandbox`, so they import each other relatively.
"""
import copy
import json

import numpy as np


class Registry(dict):
    """Drivers by name. In the trusted parent, a name the grader does not define is looked up in
    the course's own drivers files (`finder`, set by `grader.sandbox.course_drivers`); in the
    worker, the parent sends the course drivers its calls need, so a name is simply present."""
    finder = None

    def __missing__(self, name):
        if self.finder is not None and self.finder(name):
            return dict.__getitem__(self, name)
        raise KeyError(name)


DRIVERS = Registry()
PLANS = {}  # model drivers: name -> plan(arch, spec, inputs), what `plan_call` computes


def driver(fn):
    DRIVERS[fn.__name__] = fn
    return fn


def planner(name):
    """Register `fn(arch, spec, inputs) -> Plan` as the cost of model driver `name` (`plan_call`)."""
    def register(fn):
        PLANS[name] = fn
        return fn
    return register


def plan_call(name, spec, inputs):
    """The `Plan` of a call to one of the model drivers (predict, text_nll, generate, and those a
    course registers with `@planner`), computed as the driver computes it before it runs
    anything; WeightsError when the driver would refuse the model."""
    if name not in PLANS and DRIVERS.finder is not None:
        DRIVERS.finder(name)  # a course's model driver registers its plan with it
    if name not in PLANS:
        raise ValueError(f"{name} is not a model driver")
    return PLANS[name](json.loads(spec["arch"]), spec, inputs)


def copied(tree):
    return copy.deepcopy(tree)


def indexed(seq):
    """[a, b] -> {"0": a, "1": b}: the wire carries nested dicts only."""
    return {str(i): v for i, v in enumerate(seq)}


def as_list(tree):
    """Inverse of `indexed`: {"0": a, "1": b} -> [a, b]."""
    return [tree[str(i)] for i in range(len(tree))]


def xp_of(like):
    """The array module of `like`: CuPy for CuPy arrays, else NumPy (imported lazily)."""
    if type(like).__module__.split(".")[0] == "cupy":
        import cupy
        return cupy
    return np


def make_rng(seed, like=None):
    """A seeded `numpy.random.Generator`, on every device: its draws are made on the host (and
    moved with `xp.asarray`), so a seed gives the same masks and samples on NumPy and CuPy and
    the trusted parent's reference, on NumPy, sees the same numbers as the worker."""
    return np.random.default_rng(seed)


def _moved(base, i, step):
    """A copy of `base` with flat element i moved by `step`."""
    moved = base.copy()
    moved.reshape(-1)[i] += step
    return moved


def shape_ok(y, dy, res, what="y"):
    """False (and `res["forward_shape"]` set to y's shape, [-1] for a non-array) when the forward
    output cannot take the contract-shaped upstream gradient `dy`: backward is then not run."""
    shape = getattr(y, "shape", None)
    if shape is not None and tuple(shape) == tuple(dy.shape):
        return True
    res["forward_shape"] = np.array([-1] if shape is None else list(shape), dtype=np.int64)
    res["forward_shape_of"] = np.array(["y", "h_next", "c_next"].index(what), dtype=np.int64)
    return False



def perturb_all(f, inputs, spec):
    """{key with "." for "/": rows} for every key in `spec["wrt"]`, at the flat element indices
    `spec["index"][key]` (every element when absent)."""
    index = spec.get("index", {})
    return {key.replace("/", "."): _perturb_tree(f, inputs, key, spec["h"], index.get(key))
            for key in spec["wrt"]}


def _perturb_tree(f, inputs, key, h, index=None):
    """Rows f(inputs with element i of `key` moved by +h, -h), for every element i of `index`
    (default: all)."""
    *parents, leaf = key.split("/")

    def moved(i, sign):
        data = copied(inputs)
        node = data
        for p in parents:
            node = node[p]
        node[leaf] = _moved(node[leaf], i, sign * h)
        return data

    node = inputs
    for p in parents:
        node = node[p]
    xp = xp_of(node[leaf])
    index = range(node[leaf].size) if index is None else index
    return xp.stack([xp.asarray(f(moved(int(i), s))) for i in index for s in (1.0, -1.0)])

