"""Hidden cases are drawn per submission (issue 18.1): inputs leaked from one submission's run
are no table for another's, and unchanged work regraded gets the same cases."""
import shutil

from grader import engine


def _copy(src, dst, extra=""):
    shutil.copytree(src, dst)
    if extra:
        path = dst / "logistic.py"
        path.write_text(path.read_text() + extra)
    return dst


def test_each_submission_gets_its_own_cases_and_a_regrade_the_same(tmp_path):
    from tests.conftest import ROOT
    key = ROOT / "solutions" / "linear"
    a, a_again = _copy(key, tmp_path / "a"), _copy(key, tmp_path / "a-again")
    b = _copy(key, tmp_path / "b", extra="\n# a comment: other bytes, same code\n")
    grade = engine.Options(cases=engine.Oracle(), salt="secret:seed")
    salts = [engine.submission_salt(grade, folder, "linear") for folder in (a, a_again, b)]
    assert salts[0] == salts[1] != salts[2]
    assert grade.salt not in salts
    other_run = engine.Options(cases=engine.Oracle(), salt="secret:another-seed")
    assert engine.submission_salt(other_run, a, "linear") != salts[0]
    check = engine.Options(cases=engine.PublicCases({}), salt="public")
    assert engine.submission_salt(check, a, "linear") == "public"  # the stored public cases


def test_cases_differ_between_submissions_and_the_verdicts_do_not(tmp_path):
    from tests.conftest import ROOT
    key = ROOT / "solutions" / "linear"
    a = _copy(key, tmp_path / "a")
    b = _copy(key, tmp_path / "b", extra="\n# other bytes\n")
    item = next(i for i in engine.items("linear") if i.visibility == "hidden" and hasattr(i, "calls"))
    grade = engine.Options(cases=engine.Oracle(), salt="secret:seed")
    inputs = [item.calls(engine.item_rng(item.id, engine.submission_salt(grade, f, "linear"))) for f in (a, b)]
    first = [v for c in inputs[0] for v in c.inputs.values() if hasattr(v, "shape")]
    second = [v for c in inputs[1] for v in c.inputs.values() if hasattr(v, "shape")]
    assert any(x.shape != y.shape or (x != y).any() for x, y in zip(first, second))
    reports = engine.grade_many("linear", [a, b], opts=grade, jobs=2, only=[item.id])
    assert [[(i.status, i.score) for i in r.items] for r in reports] == [[("passed", item.points)]] * 2
