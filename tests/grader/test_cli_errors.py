"""The command line's answers to a user's mistakes and interruptions: one line, the right exit
code, before any work; and what an interrupted class run leaves behind."""
import csv
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT, dlgrade


def test_bare_command_prints_its_help_not_an_error_line():
    result = dlgrade()
    assert result.returncode == 2
    assert result.stdout.startswith("Usage: ") and "Commands:" in result.stdout
    assert "\n  grade " in result.stdout and "error:" not in result.stdout + result.stderr


@pytest.mark.parametrize("args, message", [
    (("release", "mlp", "--kit", "/missing/dir/mlp-kit.zip"), "--kit /missing/dir/mlp-kit.zip: folder /missing/dir does not exist"),
    (("release", "mlp", "--gradescope", "/missing/dir/"), "--gradescope /missing/dir/: folder /missing does not exist"),
    (("grade", "linear", "solutions/linear", "-o", "/missing/dir/results"), "-o /missing/dir/results: folder /missing/dir does not exist"),
    (("grade", "linear", "solutions/linear", "-o", "/proc/dlgrade-results"), "-o /proc/dlgrade-results: cannot write in /proc"),
    (("grade", "linear", "solutions/linear", "-o", "/proc/grades.csv"), "-o /proc/grades.csv: cannot write in /proc"),
    (("grade", "linear", "solutions/linear", "--feedback", "/proc/feedback"), "--feedback /proc/feedback: cannot write in /proc"),
], ids=["kit-missing-folder", "gradescope-missing-folder", "outdir-missing-parent", "outdir-unwritable",
        "csv-unwritable", "feedback-unwritable"])
def test_an_output_path_that_cannot_be_written_is_one_line_before_any_work(args, message):
    start = time.monotonic()
    result = dlgrade(*args)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith(f"error: {message}"), result.stderr
    assert "Traceback" not in result.stderr and not os.path.exists("/missing")
    assert time.monotonic() - start < 60  # refused before grading or building anything


def test_ctrl_c_exits_130_and_leaves_no_gradebook_that_looks_final(tmp_path):
    """SIGINT while a class is graded: exit 130 soon after, grades.csv (if any) marks every
    unfinished submission pending, and --resume completes the run."""
    out = tmp_path / "results"
    # eight submissions, graded one item at a time: once the first is done, the other seven take
    # seconds even on an idle machine, so the interrupt lands during the run under any load
    subs = ["solutions/linear", "assignments/linear", "solutions/linear/", "assignments/linear/",
            "solutions/../solutions/linear", "assignments/../assignments/linear",
            "./solutions/linear", "./assignments/linear"]
    cmd = [sys.executable, "-m", "grader.cli", "grade", "linear", *subs, "-o", str(out), "-j", "1"]
    # Ctrl-C as at a terminal: SIGINT at its default, even when this test runs as a background job
    # (whose shell starts it with SIGINT ignored, which Python then keeps ignoring)
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 300
    while not (out / "grades.csv").is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # the first submission finished: interrupt during the second
    if proc.poll() is not None:
        pytest.fail(f"the run ended before it could be interrupted: {proc.communicate()}")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "interrupted" and "Traceback" not in err
    rows = list(csv.DictReader((out / "grades.csv").open()))
    assert len(rows) == len(subs)
    assert rows[0]["status"] == "graded" and rows[0]["score"] == "100"
    assert any(r["status"].startswith("not graded: pending") and r["score"] == "" for r in rows[1:])
    resumed = dlgrade("grade", "linear", *subs, "-o", out, "-j", "1", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    rows = list(csv.DictReader((out / "grades.csv").open()))
    assert [r["score"] for r in rows] == ["100", "0"] * 4
    assert all(r["status"] == "graded" for r in rows)


def test_training_without_its_dataset_is_one_line(tmp_path):
    env = {**os.environ, "DLGRADE_DATA": str(tmp_path / "no-data"), "DLGRADE_CACHE": str(tmp_path / "cache"),
           "https_proxy": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9"}  # no download either
    result = subprocess.run([sys.executable, "train.py"], cwd=ROOT / "solutions" / "linear", env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("train.py: error: cifar10: "), result.stderr


def test_resume_never_reuses_a_result_graded_under_other_scoring_options(tmp_path):
    out = tmp_path / "results"
    args = ("grade", "linear", "solutions/linear", "-o", out, "--item", "linear.logistic")
    first = dlgrade(*args, "--timeout", "1000")
    assert first.returncode == 0 and "1 graded, 0 already done" in first.stderr, first.stderr
    resumed = dlgrade(*args, "--resume")  # the default timeouts: graded again
    assert resumed.returncode == 0 and "1 graded, 0 already done" in resumed.stderr, resumed.stderr
    again = dlgrade(*args, "--resume")  # the same options: reused
    assert again.returncode == 0 and "0 graded, 1 already done" in again.stderr, again.stderr
    rows = list(csv.DictReader((out / "grades.csv").open()))
    assert rows[0]["status"] == "graded" and float(rows[0]["score"]) == float(rows[0]["max_score"]) > 0


def test_give_earlier_ships_working_code_only_in_a_kit_and_only_when_asked(tmp_path):
    import zipfile
    assert dlgrade("release", "--give-earlier").returncode == 2  # assignments/ keeps the stubs
    for flag, raises in (((), True), (("--give-earlier",), False)):
        kit = tmp_path / f"kit{len(flag)}.zip"
        assert dlgrade("release", "rnn", "--kit", kit, *flag).returncode == 0
        layers = zipfile.ZipFile(kit).read("rnn/layers.py").decode()
        linear_forward = layers[layers.index("class Linear"):layers.index("def backward", layers.index("class Linear"))]
        assert ("raise NotImplementedError" in linear_forward) == raises


def test_check_names_the_files_still_an_earlier_assignments_stub():
    result = dlgrade("check", "rnn", "assignments/rnn", "--item", "rnn.embedding.forward")
    assert "note: layers.py is still the stub from mlp: copy in your own mlp/layers.py" in result.stdout
