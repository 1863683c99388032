"""Known bugs of the `mlp` assignment that live with the course (the older ones are in
`grader/mutants.py`): when a student's output matches one, the feedback names the bug.
Instructor-only: never released."""
from reference.backend import get_array_module
from reference.layers import BatchNorm1d


class BatchNormEpsOutsideSqrt(BatchNorm1d):
    """BatchNorm1d dividing by sqrt(var) + eps instead of sqrt(var + eps)."""

    def forward(self, x, params, *, train=False, rng=None, state=None):
        xp = get_array_module(x)
        y, cache = super().forward(x, params, train=train, rng=rng, state=state)
        var = x.var(axis=0) if train else state["running_var"].astype(x.dtype)
        mean = x.mean(axis=0) if train else state["running_mean"].astype(x.dtype)
        x_hat = (x - mean) / (xp.sqrt(var) + self.eps)
        return params["gamma"] * x_hat + params["beta"], cache
