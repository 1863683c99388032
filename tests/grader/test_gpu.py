"""--device cuda: the same items with CuPy inputs (skipped where there is no GPU, as in CI)."""
import pytest

from grader import api
from reference.backend import cupy_available

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not cupy_available(), reason="needs CuPy and a CUDA device")]


@pytest.mark.parametrize("assignment", ["mlp", "cnn", "rnn"])
def test_answer_keys_pass_on_the_gpu(assignment):
    items = [i.id for i in api.items(assignment) if not getattr(i, "trusted", False) and "speed" not in i.id]
    report = api.grade(assignment, f"solutions/{assignment}", opts=api.Options(device="cuda"), only=items)
    failed = [f"{i.id}: {i.status}\n{i.output}" for i in report.items if i.status != "passed"]
    assert not failed, "\n".join(failed)
