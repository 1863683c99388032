"""The reference's outputs on an item's cases are computed once per salt and process: every
submission of a class is compared with the same expected values, and none can alter them."""
from pathlib import Path

from grader import engine
from grader.engine import oracle  # where `reference_cases` looks the function up

ROOT = Path(__file__).resolve().parents[2]


def test_reference_runs_once_per_item_and_salt(monkeypatch):
    ran = []
    real = engine.expected_from_reference
    monkeypatch.setattr(oracle, "expected_from_reference", lambda item, calls: ran.append(item.id) or real(item, calls))
    opts = engine.Options(cases=engine.Oracle(), salt="cache-test", sandbox=False)
    for _ in range(2):
        report = engine.grade("mlp", ROOT / "solutions/mlp", opts=opts, only=["mlp.linear.forward"])
        assert report.score == report.max_score
    assert ran == ["mlp.linear.forward"]
    engine.grade("mlp", ROOT / "solutions/mlp", opts=engine.Options(cases=engine.Oracle(), salt="other", sandbox=False),
              only=["mlp.linear.forward"])
    assert ran == ["mlp.linear.forward"] * 2


def test_each_caller_gets_its_own_copy():
    item = next(i for i in engine.items("mlp") if i.id == "mlp.linear.forward")
    calls, expected, _ = engine.reference_cases(item, "copy-test")
    expected[0]["0"]["y"][...] = 1e9  # a caller that scribbles on its copy
    calls[0].inputs["x"][...] = 0
    again_calls, again, _ = engine.reference_cases(item, "copy-test")
    assert (again[0]["0"]["y"] != 1e9).all() and again_calls[0].inputs["x"].any()
