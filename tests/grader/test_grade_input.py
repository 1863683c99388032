"""`dlgrade grade` input: hostile zips, bad options and submissions (one line, the right exit code,
before any grading), and -o OUTDIR with --resume surviving a SIGKILL."""
import json
import os
import signal
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from grader import engine

ROOT = Path(__file__).resolve().parents[2]
STUB = ROOT / "assignments" / "mlp"
SOLUTION = ROOT / "solutions" / "mlp"


def dlgrade(*args, timeout=600, **kw):
    return subprocess.run([sys.executable, "-m", "grader.cli", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, **kw)


def zip_of(path: Path, members):
    """A zip with (name, bytes) members, or (ZipInfo, bytes)."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members:
            zf.writestr(name, data)
    return path


def sources(folder=SOLUTION, prefix=""):
    return [(prefix + p.name, p.resolve().read_bytes()) for p in sorted(folder.glob("*.py"))]


# --------------------------------------------------------------------------- zips
def test_member_escaping_by_a_shared_prefix_stays_inside(tmp_path):
    """`../10/x` from submission 1's folder `.../1` shares the prefix `.../1` with `.../10`."""
    (tmp_path / "10").mkdir()
    z = zip_of(tmp_path / "a.zip", sources() + [("../10/layers.py", b"raise SystemExit"),
                                                 ("../../escape.py", b"x"), ("/abs.py", b"x")])
    folder = engine.unpack(z, tmp_path / "1")
    assert not (tmp_path / "10" / "layers.py").exists() and not (tmp_path / "escape.py").exists()
    assert (folder / "layers.py").read_bytes() == (SOLUTION / "layers.py").read_bytes()


def test_dot_member_is_skipped(tmp_path):
    z = zip_of(tmp_path / "a.zip", [(".", b"x"), ("./", b""), ("./layers.py", b"x = 1\n")])
    assert (engine.unpack(z, tmp_path / "u") / "layers.py").read_text() == "x = 1\n"


def test_encrypted_member_is_one_error(tmp_path):
    z = zip_of(tmp_path / "a.zip", [("layers.py", b"x = 1\n")])
    data = bytearray(z.read_bytes())
    for sig, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # set the "encrypted" bit
        i = data.find(sig)
        data[i + flag_at] |= 1
    z.write_bytes(bytes(data))
    with pytest.raises(engine.GradeError, match="encrypted"):
        engine.unpack(z, tmp_path / "u")


def test_bad_crc_is_one_error(tmp_path):
    z = tmp_path / "a.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("layers.py", b"x = 1\n" * 10)
    data = bytearray(z.read_bytes())
    i = data.find(b"x = 1")
    data[i] = ord("y")
    z.write_bytes(bytes(data))
    with pytest.raises(engine.GradeError, match="cannot unpack"):
        engine.unpack(z, tmp_path / "u")


def test_symlink_and_fifo_members_are_not_created(tmp_path):
    z = tmp_path / "a.zip"
    with zipfile.ZipFile(z, "w") as zf:
        link = zipfile.ZipInfo("layers.py")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, str(SOLUTION / "layers.py"))
        fifo = zipfile.ZipInfo("losses.py")
        fifo.external_attr = (stat.S_IFIFO | 0o644) << 16
        zf.writestr(fifo, b"")
        zf.writestr("optim.py", b"x = 1\n")
    folder = engine.unpack(z, tmp_path / "u")
    assert sorted(p.name for p in folder.iterdir()) == ["optim.py"]


def test_zip_bomb_is_refused(tmp_path):
    z = tmp_path / "a.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("big.py", b"0" * (engine.MAX_ZIP_BYTES + 1))
    with pytest.raises(engine.GradeError, match="more than"):
        engine.unpack(z, tmp_path / "u")


def test_nested_single_folders_are_descended(tmp_path):
    z = zip_of(tmp_path / "a.zip", sources(prefix="alice/hw1/") + [("__MACOSX/._x", b"")])
    assert engine.unpack(z, tmp_path / "u").name == "hw1"


def test_fifo_as_a_submission_path_is_refused(tmp_path):
    os.mkfifo(tmp_path / "sub.zip")
    with pytest.raises(engine.GradeError, match="not a folder or a .zip"):
        engine.unpack(tmp_path / "sub.zip", tmp_path / "u")


def test_broken_zips_cost_only_themselves(tmp_path):
    bad = zip_of(tmp_path / "bad.zip", [("layers.py", b"x = 1\n")])
    data = bytearray(bad.read_bytes())
    data[data.find(b"PK\x03\x04") + 6] |= 1
    data[data.find(b"PK\x01\x02") + 8] |= 1
    bad.write_bytes(bytes(data))
    good = zip_of(tmp_path / "good.zip", sources(prefix="good/"))
    dot = zip_of(tmp_path / "dot.zip", [(".", b"x")] + sources())
    r = dlgrade("grade", "mlp", bad, good, dot, "--item", "mlp.linear", "--format", "json")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    reports = json.loads(r.stdout)
    assert [x["score"] for x in reports] == [0, 5, 5]
    assert "encrypted" in reports[0]["error"] and f"error: {bad}: " in r.stderr


# --------------------------------------------------------------------------- strict options
@pytest.mark.parametrize("args, words", [
    (["--timeout", "-1"], "--timeout"),
    (["--timeout", "0"], "--timeout"),
    (["--item", "mlp.nonexistent"], "no mlp item"),
    (["-j", "0"], "--jobs"),
    (["--format", "gradescope", "SECOND"], "exactly one submission"),
    (["-o", "/no/such/folder/grades.csv"], "does not exist"),
    (["-o", "/no/such/folder/out/"], "does not exist"),
    (["--resume"], "--resume needs -o"),
    (["--format", "pdf"], "--format"),
], ids=["negative-timeout", "zero-timeout", "unknown-item", "zero-jobs", "gradescope-several", "o-missing-folder",
        "outdir-missing-parent", "resume-without-o", "bad-format"])
def test_bad_options_fail_before_grading(args, words):
    args = [str(STUB) if a == "SECOND" else a for a in args]
    start = time.monotonic()
    r = dlgrade("grade", "mlp", str(SOLUTION), *args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: ") and words in r.stderr, r.stderr
    assert r.stdout == "" and time.monotonic() - start < 20


@pytest.mark.parametrize("kind", ["empty", "nested", "missing", "not-zip"])
def test_ungradable_submissions_are_reported_in_every_format(tmp_path, kind):
    if kind == "empty":
        path = tmp_path / "empty"
        path.mkdir()
    elif kind == "nested":  # nested folders with no Python anywhere
        (tmp_path / "n" / "a" / "b").mkdir(parents=True)
        (tmp_path / "n" / "a" / "b" / "notes.txt").write_text("hi")
        path = tmp_path / "n"
    elif kind == "missing":
        path = tmp_path / "nope"
    else:
        path = tmp_path / "x.zip"
        path.write_text("not a zip")
    for fmt in ("json", "csv", "table"):
        r = dlgrade("grade", "mlp", path, str(SOLUTION), "--item", "mlp.linear", "--format", fmt)
        assert r.returncode == 1 and r.stderr.count(f"error: {path}: ") == 1, r.stderr
        if fmt == "json":
            reports = json.loads(r.stdout)
            assert reports[0]["error"] and reports[1]["score"] == 5 and "error" not in reports[1]
        elif fmt == "table":
            assert f"({reports[0]['error']})" in r.stdout
        else:
            import csv
            import io
            rows = list(csv.DictReader(io.StringIO(r.stdout)))
            assert rows[0]["status"] == f"not graded: {reports[0]['error']}" and rows[0]["score"] == ""
            assert rows[1]["status"] == "graded" and rows[1]["score"] == "5"


def test_missing_module_is_reported_once(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "losses.py").write_bytes((SOLUTION / "losses.py").read_bytes())
    r = dlgrade("grade", "mlp", sub, "--item", "mlp.linear", "--item", "mlp.relu", "--item", "mlp.loss.mse",
                "--format", "json")
    assert r.stderr.count("layers.py is missing") == 1, r.stderr
    items = json.loads(r.stdout)["items"]
    assert all(i["output"] == "layers.py is missing from the submission" for i in items if not i["id"].startswith("mlp.loss"))


def test_output_file_is_replaced_atomically_never_through_a_link(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    (tmp_path / "link.csv").symlink_to(target)
    r = dlgrade("grade", "mlp", str(SOLUTION), "--item", "mlp.linear.forward", "--format", "csv", "-o",
                tmp_path / "out.csv")
    assert r.returncode == 0 and (tmp_path / "out.csv").read_text().startswith("id,submission,status,score,max_score,")
    r = dlgrade("grade", "mlp", str(SOLUTION), "--item", "mlp.linear.forward", "-o", tmp_path / "link.csv")
    assert r.returncode == 2 and target.read_text() == "keep me"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_salt_comes_from_the_course_secret_and_is_recorded(tmp_path):
    env = {**os.environ, "DLGRADE_SECRET_FILE": str(tmp_path / "secret")}
    env.pop("DLGRADE_SECRET", None)
    runs = [dlgrade("grade", "mlp", str(SOLUTION), "--item", "mlp.linear.forward", "--format", "json", env=env)
            for _ in range(2)]
    secret = (tmp_path / "secret").read_text().strip()
    assert len(secret) == 64 and stat.S_IMODE((tmp_path / "secret").stat().st_mode) == 0o600
    ids = [json.loads(r.stdout)["salt_id"] for r in runs]
    assert ids[0] == ids[1]
    other = dlgrade("grade", "mlp", str(SOLUTION), "--item", "mlp.linear.forward", "--format", "json", "--seed", "2",
                    env=env)
    assert json.loads(other.stdout)["salt_id"] != ids[0]
    from grader import secret as S
    assert S.run_salt("grade", secret)[0] != "grade"


# --------------------------------------------------------------------------- OUTDIR and --resume
def _class(tmp_path, n):
    """n submissions: answer keys, stubs and one planted bug, as folders."""
    subs = []
    for k in range(n):
        d = tmp_path / "class" / f"student{k:02d}"
        d.mkdir(parents=True)
        src = SOLUTION if k % 3 != 1 else STUB
        for p in src.glob("*.py"):
            (d / p.name).write_bytes(p.resolve().read_bytes())
        if k % 3 == 2:
            with open(d / "layers.py", "a") as f:
                f.write("\n_b = Linear.backward\nLinear.backward = lambda self, dy, c: "
                        "(lambda r: (r[0], {'W': r[1]['W'].T.copy().T * 2, 'b': r[1]['b']}))(_b(self, dy, c))\n")
        subs.append(d)
    return subs


ITEMS = ["--item", "mlp.linear", "--item", "mlp.relu", "--item", "mlp.loss.mse"]


def test_sigkill_then_resume_gives_the_uninterrupted_gradebook(tmp_path):
    subs = _class(tmp_path, 12)
    full = tmp_path / "full"
    r = dlgrade("grade", "mlp", *subs, *ITEMS, "--format", "csv", "-o", f"{full}/", "-j", "2")
    assert r.returncode == 0, r.stderr
    expected = (full / "grades.csv").read_text()
    assert len(expected.strip().splitlines()) == 13

    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "grader.cli", "grade", "mlp", *map(str, subs), *ITEMS,
                             "--format", "csv", "-o", f"{out}/", "-j", "2"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list((out / "results").glob("*.json"))) < 4:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = list((out / "results").glob("*.json"))
    assert 4 <= len(done) < 12, len(done)
    for p in done:  # never half a file
        json.loads(p.read_text())
    if (out / "grades.csv").exists():  # the gradebook so far: whole rows of finished submissions, the others pending
        import csv
        import io
        text = (out / "grades.csv").read_text()
        rows = text.strip().splitlines()
        assert rows[0] == expected.splitlines()[0]
        pending = [row["status"].startswith("not graded: pending") for row in csv.DictReader(io.StringIO(text))]
        final = [row for row, p in zip(rows[1:], pending) if not p]
        assert len(final) <= len(done) and all(row in expected.splitlines() for row in final)

    # a changed resubmission is graded again
    with open(subs[0] / "layers.py", "a") as f:
        f.write("\n# resubmitted\n")
    r = dlgrade("grade", "mlp", *subs, *ITEMS, "--format", "csv", "-o", out, "--resume", "-j", "2")
    assert r.returncode == 0, r.stderr
    graded, skipped = (int(w) for w in r.stderr.split(" graded, ")[0].split()[-1:] + r.stderr.split(" graded, ")[1].split()[:1])
    assert skipped == len(done) - (1 if any("student00" in p.name for p in done) else 0) and graded == 12 - skipped
    assert (out / "grades.csv").read_text() == expected
    # and resuming a finished run grades nothing
    r = dlgrade("grade", "mlp", *subs, *ITEMS, "--format", "csv", "-o", out, "--resume")
    assert "0 graded, 12 already done" in r.stderr and (out / "grades.csv").read_text() == expected


# --------------------------------------------------------------------------- submitted weights
@pytest.mark.parametrize("arch, arrays, words", [
    ([{"type": "Conv2d", "in_channels": 3, "out_channels": 4, "kernel_size": 3, "padding": 60000}], {}, "padding"),
    ([{"type": "MaxPool2d", "kernel_size": 4000}], {}, "kernel_size"),
    ([{"type": "ReLU"}] * 100, {}, "more than 64"),
    ([{"type": "ReLU"}], {"0.W": "bomb"}, "unpacks to more than"),
], ids=["huge-padding", "huge-window", "too-many-layers", "decompression-bomb"])
def test_hostile_weights_are_refused(tmp_path, arch, arrays, words):
    import numpy as np
    from grader.items.models import WeightsError, load_weights
    arrays = {k: np.zeros(300 << 18, np.float32) if v == "bomb" else v for k, v in arrays.items()}
    np.savez_compressed(tmp_path / "w.npz", arch=np.array(json.dumps(arch)), **arrays)
    assert (tmp_path / "w.npz").stat().st_size < 1 << 20
    with pytest.raises(WeightsError, match=words):
        load_weights(tmp_path / "w.npz")


# --------------------------------------------------------------------------- issue 17: what a user sends
def _weights_submissions(tmp_path):
    """Submissions whose mlp_weights.npz is not a NumPy archive of plain arrays, with the words
    the one-line reason must hold."""
    import numpy as np
    out = []

    def folder(name):
        d = tmp_path / name
        d.mkdir()
        return d / "mlp_weights.npz"

    folder("random").write_bytes(bytes(range(256)) * 12)
    out.append(("random", "is not a NumPy .npz archive"))
    path = folder("npy")
    np.save(path.with_suffix(".npy"), np.zeros(3, np.float32))
    path.with_suffix(".npy").rename(path)
    out.append(("npy", "is a single .npy array, not a .npz archive"))
    arch = io_npy(np.array(json.dumps([{"type": "ReLU"}])))
    zip_of(folder("text-member"), [("arch.npy", arch), ("notes.txt", b"hello")])
    out.append(("text-member", "member 'notes.txt' is not a NumPy array file (.npy)"))
    zip_of(folder("bad-npy"), [("arch.npy", b"hello")])
    out.append(("bad-npy", "member 'arch.npy' is not a valid .npy array"))
    np.savez(folder("objects"), arch=np.array([{"type": "ReLU"}], dtype=object))
    out.append(("objects", "member 'arch.npy' holds Python objects (pickled data)"))
    return out


def io_npy(array) -> bytes:
    import io as _io

    import numpy as np
    buf = _io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def test_garbage_weights_file_says_what_is_wrong_in_one_line(tmp_path):
    """Not NumPy's "contains pickled data ... load it unsafely": what is wrong with the file."""
    cases = _weights_submissions(tmp_path)
    r = dlgrade("grade", "mlp", *(tmp_path / name for name, _ in cases), "--item", "mlp.train.accuracy",
                "--format", "json")
    assert "Traceback" not in r.stderr
    for (name, words), report in zip(cases, json.loads(r.stdout)):
        output = report["items"][0]["output"]
        assert words in output and "\n" not in output, (name, output)
        assert "unsafely" not in output and "allow_pickle" not in output and "internal grader error" not in output


def test_files_in_one_subfolder_beside_other_folders_are_found(tmp_path):
    """A zip whose files sit in `mlp/` beside `other/` (and `__MACOSX/`) is graded from `mlp/`;
    two folders that both hold the assignment's files make the submission ungradable, with
    where they are, never a silent 0."""
    one = zip_of(tmp_path / "one.zip", sources(prefix="mlp/") + [("other/notes.txt", b"x"),
                                                                   ("__MACOSX/mlp/._layers.py", b"\0")])
    folder = tmp_path / "folder"
    (folder / "old").mkdir(parents=True)
    (folder / "old" / "README").write_text("x")
    for name, data in sources(prefix="mlp/"):
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_bytes(data)
    two = zip_of(tmp_path / "two.zip", sources(prefix="v1/") + sources(prefix="v2/"))
    r = dlgrade("grade", "mlp", one, folder, two, "--item", "mlp.linear", "--format", "json")
    one_r, folder_r, two_r = json.loads(r.stdout)
    assert one_r["score"] == folder_r["score"] == 5 and "error" not in one_r and "error" not in folder_r, r.stdout
    assert "is missing" not in r.stderr, r.stderr
    assert r.returncode == 1 and two_r["error"].count("v1/") == 1 and "v2/" in two_r["error"], two_r
    assert f"error: {two}: " in r.stderr and "layers.py" in two_r["error"]


def test_an_ungradable_submission_says_why_once(tmp_path):
    """An empty zip: the reason once, in the table and in feedback.txt, never once per item."""
    empty = zip_of(tmp_path / "empty.zip", [])
    r = dlgrade("grade", "mlp", empty, "--item", "mlp.linear", "--item", "mlp.relu")
    assert r.returncode == 1 and r.stdout.count(engine.EMPTY) == 1 and "not a folder" not in r.stdout, r.stdout
    r = dlgrade("grade", "mlp", empty, "--item", "mlp.linear", "--item", "mlp.relu", "-o", tmp_path / "out")
    feedback = (tmp_path / "out" / "empty" / "feedback.txt").read_text()
    assert feedback.count(engine.EMPTY) == 1 and "not a folder" not in feedback, feedback
