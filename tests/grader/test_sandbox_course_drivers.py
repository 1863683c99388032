"""A course's own worker drivers (`solutions/<a>/drivers.py`): registered in the trusted parent for
the reference run, sent to the worker that runs the student's code, and a clear error for a
driver nobody defines."""
import json

import numpy as np
import pytest

from grader import course, engine
from grader.sandbox import course_drivers
from grader.sandbox.drivers import DRIVERS, plan_call
from grader.sandbox.runner import Call, Limits, WorkerPool, run_worker, sandbox_problem
from tests.conftest import ROOT

SANDBOXES = [pytest.param(True, id="sandbox", marks=pytest.mark.skipif(bool(sandbox_problem()),
                                                                       reason=sandbox_problem() or "")),
             pytest.param(False, id="plain process")]
TWICE = '''
from grader.sandbox.drivers import driver


@driver
def {name}(resolve, spec, inputs):
    """The student's function, applied twice."""
    fn = resolve(spec["module"], spec["name"])
    return {{"y": fn(fn(inputs["x"]))}}
'''


def make_course(tmp_path, monkeypatch, name, source):
    """A course whose assignment `demo_<name>` has a drivers file (and nothing packaged)."""
    folder = tmp_path / "course" / "solutions" / f"demo_{name}"
    folder.mkdir(parents=True)
    (folder / "drivers.py").write_text(source)
    monkeypatch.setenv("DLGRADE_COURSE", str(tmp_path / "course"))
    monkeypatch.setattr(course, "PACKAGED", tmp_path / "no-kit")
    return folder / "drivers.py"


def student(tmp_path, body="return x + 1"):
    sub = tmp_path / "sub"
    sub.mkdir(parents=True)
    (sub / "funcs.py").write_text(f"def bump(x):\n    {body}\n")
    return sub


def twice(name):
    return Call(name, {"module": "funcs", "name": "bump"}, {"x": np.arange(4.0)})


def test_the_parent_registers_a_course_driver_on_first_use(tmp_path, monkeypatch):
    make_course(tmp_path, monkeypatch, "parent", TWICE.format(name="twice_parent"))
    assert "twice_parent" not in DRIVERS
    out = DRIVERS["twice_parent"](lambda module, name: np.negative, {"module": "m", "name": "f"},
                                  {"x": np.arange(3.0)})
    assert np.array_equal(out["y"], np.arange(3.0))
    assert course_drivers.ORIGIN["twice_parent"].name == "drivers.py"


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_a_worker_runs_a_course_driver_on_the_students_code(tmp_path, monkeypatch, sandbox):
    make_course(tmp_path, monkeypatch, f"worker_{sandbox:d}", TWICE.format(name=f"twice_{sandbox:d}"))
    result = run_worker(student(tmp_path), [twice(f"twice_{sandbox:d}")], Limits(timeout_s=20), sandbox=sandbox)
    assert result.status == "ok", result.message
    assert np.array_equal(result.outputs[0]["y"], np.arange(4.0) + 2)
    wrong = run_worker(student(tmp_path / "b", "return x * 3"), [twice(f"twice_{sandbox:d}")], Limits(timeout_s=20),
                       sandbox=sandbox)
    assert np.array_equal(wrong.outputs[0]["y"], np.arange(4.0) * 9)


def test_a_prestarted_worker_runs_a_course_driver(tmp_path, monkeypatch):
    if sandbox_problem():
        pytest.skip(sandbox_problem())
    make_course(tmp_path, monkeypatch, "pool", TWICE.format(name="twice_pool"))
    pool = WorkerPool()
    try:
        sub = student(tmp_path)
        for _ in range(2):  # the second item forks from the same pre-started worker
            result = pool.run(sub, [twice("twice_pool"), twice("twice_pool")], Limits(timeout_s=20))
            assert result.status == "ok", result.message
            assert [np.array_equal(o["y"], np.arange(4.0) + 2) for o in result.outputs] == [True, True]
    finally:
        pool.close()


def test_without_the_course_source_the_worker_does_not_know_the_driver(tmp_path, monkeypatch):
    """The worker has only the grader's drivers: the parent's frame is what brings the course's."""
    make_course(tmp_path, monkeypatch, "unsent", TWICE.format(name="twice_unsent"))
    monkeypatch.setattr(course_drivers, "frame", lambda calls: {})
    result = run_worker(student(tmp_path), [twice("twice_unsent")], Limits(timeout_s=20), sandbox=False)
    assert result.status == "error" and "twice_unsent" in result.message


def test_a_driver_nobody_defines_is_one_clear_line(tmp_path, monkeypatch):
    make_course(tmp_path, monkeypatch, "none", TWICE.format(name="twice_none"))
    with pytest.raises(course_drivers.DriverError) as info:
        run_worker(student(tmp_path), [twice("nobody_defines_this")], Limits(timeout_s=20), sandbox=False)
    assert str(info.value).startswith("no driver 'nobody_defines_this': ") and "\n" not in str(info.value)
    assert "solutions/<a>/drivers.py" in str(info.value)
    with pytest.raises(KeyError):
        DRIVERS["nobody_defines_this"]


@pytest.mark.parametrize("source, says", [
    (TWICE.format(name="layer"), "driver 'layer' is already defined by the grader"),
    ("import scipy_that_is_not_there\n", r"cannot be loaded \(ModuleNotFoundError"),
], ids=["redefines a grader driver", "broken file"])
def test_a_course_drivers_file_that_cannot_be_used_is_refused(tmp_path, monkeypatch, source, says):
    path = make_course(tmp_path, monkeypatch, "bad", source)
    grader_layer = DRIVERS["layer"]
    with pytest.raises(course_drivers.DriverError, match=says):
        course_drivers.load(path)
    assert DRIVERS["layer"] is grader_layer


def test_a_kits_packaged_drivers_are_found(tmp_path, monkeypatch):
    """A student kit's tool carries them as grader/assignments/_drivers/<a>.py."""
    monkeypatch.setenv("DLGRADE_COURSE", str(tmp_path / "empty-course"))
    packaged = tmp_path / "assignments"
    (packaged / "_drivers").mkdir(parents=True)
    (packaged / "_drivers" / "demo_kit.py").write_text(TWICE.format(name="twice_kit"))
    monkeypatch.setattr(course, "PACKAGED", packaged)
    result = run_worker(student(tmp_path), [twice("twice_kit")], Limits(timeout_s=20), sandbox=False)
    assert result.status == "ok" and np.array_equal(result.outputs[0]["y"], np.arange(4.0) + 2)


def test_the_autoencoders_squared_error_is_a_course_driver_with_its_plan(monkeypatch, tmp_path):
    """Moved out of the engine: defined by solutions/autoencoder/drivers.py, costed by its @planner,
    and computed in a worker on an answer key's layers as NumPy computes it."""
    monkeypatch.delenv("DLGRADE_COURSE", raising=False)
    assert "def squared_error" not in (ROOT / "grader" / "sandbox" / "drivers.py").read_text()
    rng = np.random.default_rng(0)
    arch = [{"type": "Linear", "in_features": 12, "out_features": 12}]
    weights = {"0.W": rng.standard_normal((12, 12)).astype(np.float32), "0.b": np.zeros(12, np.float32)}
    x = rng.standard_normal((5, 12)).astype(np.float32)
    spec, inputs = {"arch": json.dumps(arch), "keep": 2}, {"weights": weights, "x": x}
    assert int(plan_call("squared_error", spec, inputs)) == 5
    assert course_drivers.ORIGIN["squared_error"] == ROOT / "solutions" / "autoencoder" / "drivers.py"
    key = engine.snapshot(ROOT / "solutions" / "mlp", tmp_path / "mlp", "mlp")  # its links followed, as grading does
    result = run_worker(key, [Call("squared_error", spec, inputs)],
                        Limits(timeout_s=30), sandbox=False)
    assert result.status == "ok", result.message
    expected = (((x @ weights["0.W"]).astype(np.float64) - x) ** 2).sum(axis=1)
    assert np.allclose(result.outputs[0]["sse"], expected, rtol=1e-5)


def test_a_driver_loaded_from_another_course_is_loaded_again_from_this_one(tmp_path, monkeypatch):
    """One process, two course folders (as a test suite or a notebook has): the copy of mlp's
    drivers that a temporary course loaded (and whose folder is gone) never answers for the real
    course, and neither copy is a clash."""
    import shutil
    real = (ROOT / "solutions" / "mlp" / "drivers.py").resolve()
    other = tmp_path / "other" / "solutions" / "mlp"
    other.mkdir(parents=True)
    shutil.copyfile(real, other / "drivers.py")
    with monkeypatch.context() as m:
        m.setenv("DLGRADE_COURSE", str(tmp_path / "other"))
        m.setattr(course, "PACKAGED", tmp_path / "no-kit")
        assert course_drivers.frame([Call("xor", {}, {})])["course"][0]["file"] == "mlp/drivers.py"
        assert course_drivers.ORIGIN["xor"] == (other / "drivers.py").resolve()
    shutil.rmtree(tmp_path / "other")
    monkeypatch.delenv("DLGRADE_COURSE", raising=False)
    frame = course_drivers.frame([Call("xor", {}, {}), Call("race", {}, {})])
    assert course_drivers.ORIGIN["xor"] == course_drivers.ORIGIN["race"] == real
    assert [f["source"] for f in frame["course"]] == [real.read_text()]
