"""Numerical gradient checks: the student's backward against central differences of the student's
own forward, at the elements a perturbation call moved (`grader.items.cases.perturbation`)."""
import numpy as np

from grader.items import checks as C
from grader.items.cases import H
from grader.items.checks import CheckResult
from grader.items.verdicts import dig


def gradchecks(calls, got, upstream, analytic):
    """The numerical gradient check over every perturbation call: `upstream(i)` is case i's
    upstream gradient, `analytic(i)` its {key: student gradient}."""
    name = "numerical gradient check (float64)"
    for j, call in enumerate(calls):
        if not call.driver.endswith("_perturbed"):
            continue
        i = call.spec["case"]
        result = gradcheck(call, got[j], upstream(i), analytic(i), calls[i].spec.get("tag", ""))
        if not result.passed:
            return C.gated(result)
    return CheckResult(name, True, gated=True)


def gradcheck(call, pert, dy, analytic, tag=""):
    """Analytic gradients (by perturbed key) against central differences of the student's forward,
    at the elements `call.spec["index"]` moved (all when absent)."""
    name = "numerical gradient check (float64)"
    names = {"x": "dx", "h": "dh", "h_c": "dc"}
    where = f" [{tag}]" if tag else ""
    dy = np.asarray(dy, dtype=np.float64)
    for key in call.spec["wrt"]:
        rows = pert.get("f", {}).get(key.replace("/", "."))
        label_ = names.get(key, "d" + key.split("/")[-1])
        node = dig(call.inputs, key.split("/"))
        grad = analytic.get(key)
        if rows is None or grad is None or isinstance(grad, C.WrongType):
            return CheckResult(name, False, C.mismatch(f"{label_}{where}", grad, node) or
                               f"{label_}{where}: missing from what your code returned")
        if np.shape(grad) != np.shape(node):
            return CheckResult(name, False, f"{label_}{where}: shape {np.shape(grad)}, expected {np.shape(node)} "
                                            f"(the shape of {key.split('/')[-1]})")
        rows = np.asarray(rows, dtype=np.float64)
        if rows.shape[1:] != dy.shape:
            return CheckResult(name, False, f"your forward returns shape {rows.shape[1:]}, expected {dy.shape}: "
                                            "fix forward first")
        index = call.spec.get("index", {}).get(key, list(range(np.size(node))))
        numeric = C.numerical_gradient(rows, dy, H)
        grad = np.asarray(grad, dtype=np.float64)
        full = grad.copy()  # entries not moved agree by construction; the index shown is the real one
        # Where the student's own forward is not finite at x +- h (its overflow, which the forward
        # item charges), finite differences say nothing about backward: those entries are skipped,
        # explicitly (a non-finite expected value is no wildcard in `checks.mismatch`).
        full.reshape(-1)[index] = np.where(np.isfinite(numeric), numeric, grad.reshape(-1)[index])
        what = f"{label_}{where} (your backward vs. finite differences of your forward)"
        # rounding in the forward's values, amplified by 1/h: large outputs (logits x1000) need it
        noise = 64 * np.finfo(np.float64).eps * float(np.abs(rows[np.isfinite(rows)]).max(initial=0)) * float(np.abs(dy).sum()) / (2 * H)
        brief, pattern, msg = C.explain(what, grad, full, rtol=C.GRADCHECK_TOL[0],
                                        atol=max(C.GRADCHECK_TOL[1], noise), check_dtype=False)
        if msg:
            moved = np.abs(grad.reshape(-1)[index]).max(initial=0)
            if moved > 0 and np.abs(numeric).max(initial=0) <= 1e-6 * moved:
                msg = (f"{label_}{where}: your forward does not depend on {key.split('/')[-1]} (its output did not "
                       f"change when {key.split('/')[-1]} moved), but your backward returns a nonzero {label_}")
                return CheckResult(name, False, msg)
            return CheckResult(name, False, msg, hints=C.levels(brief, pattern))
    return CheckResult(name, True)
