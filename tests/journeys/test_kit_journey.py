"""The student kit as a student receives it, for every assignment: built by the installed wheel
(`dlgrade --course <repo> release A --kit DIR`: releasing needs the course's answer keys),
unzipped into a folder outside the repository, and installed into ONE fresh student venv shared
by all kits (each later kit's wheel goes in with `pip install --force-reinstall --no-deps`).

Every command of the README's ```bash/```sh blocks runs as written, in the unzipped folder, except:
`cd DIR` changes the folder; `python3 -m venv .venv` and `. .venv/bin/activate` are only checked
to parse (the shared student venv stands in for them); `python train.py ...` (other than
`--help`) runs after the answer key's code is in, and passes once it has printed its first
progress line (then it is killed); `jupyter lab NOTEBOOK` (interactive) becomes a headless
`jupyter nbconvert --execute` of the lesson's notebook on the stub, which must run without an
error cell, its checks saying "not attempted". Then: `dlgrade check` on the stub exits 0 with every item
not attempted; with the answer key's files copied in (only the files the kit has) every public
item passes but the trained-model items (no weights: not attempted); `dlgrade submit` writes
submission.zip; the instructor's `dlgrade grade A submission.zip` (the wheel's venv) gives the
same items full marks."""
import json
import re
import select
import shlex
import subprocess
import time
import zipfile

import pytest

from grader.student.manifest import train_commands

from .conftest import (ASSIGNMENTS, REPO, copy_key, is_timed, is_untrained, kill_group, make_venv, needs_data,
                       start, venv_env)

SHELLS = {"bash", "sh", "shell"}
ROW = re.compile(r"^(\S+)\s+([\d.]+) / ([\d.]+)\s+(\w+)\s*$")
PROGRESS = re.compile(r"^\s*(\[[\w-]+\]\s*)?(data|model|parameters|epoch|step)\b")
TRAIN_START_S = 300  # seconds a training command may take to print its first progress line


def shell_commands(readme):
    """The command lines of the README's shell blocks (continuations joined, comments kept)."""
    lines, lang, pending = [], None, ""
    for line in readme.splitlines():
        fence = re.match(r"^\s*```\s*(\S*)", line)
        if fence:
            lang = None if lang is not None else fence.group(1).lower()
            continue
        if lang not in SHELLS:
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        line, pending = pending + line, ""
        if line.strip() and not line.strip().startswith("#"):
            lines.append(line.strip())
    return lines


def parses(line):
    """The line is one well-formed shell command line (bash -n) and splits into words."""
    proc = subprocess.run(["bash", "-n", "-c", line], capture_output=True, text=True)
    assert proc.returncode == 0, f"README line does not parse: {line!r}\n{proc.stderr}"
    return shlex.split(line, comments=True)


def check_table(stdout):
    """{item id: (score, max, status)} from `dlgrade check`'s table."""
    return {m.group(1): (float(m.group(2)), float(m.group(3)), m.group(4))
            for m in map(ROW.match, stdout.splitlines()) if m and m.group(1) != "total"}


def trained_missing(stdout):
    """{item id: weights file} from the "Trained models:" lines that say a file is not found."""
    return dict(re.findall(r"^\s+(\S+): (\S+\.npz) not found", stdout, re.MULTILINE))


@pytest.fixture(scope="module")
def student(tmp_path_factory, base_env):
    """The one student venv (the first kit's README installs into it) and its environment."""
    venv = make_venv(tmp_path_factory.mktemp("student-venv") / "venv")
    return {"venv": venv, "env": venv_env(base_env, venv), "installed": False}


@pytest.fixture(scope="module")
def kits(tmp_path_factory, run, dlgrade):
    """`kits(A)` -> the unzipped kit's root (where the student unzipped it), built once."""
    cache = {}

    def get(assignment):
        if assignment not in cache:
            root = tmp_path_factory.mktemp(f"kit-{assignment}")
            run(dlgrade, "--course", REPO, "release", assignment, "--kit", root / "dist")
            [kit] = (root / "dist").glob("*.zip")
            with zipfile.ZipFile(kit) as zf:
                zf.extractall(root / "unzipped")
            cache[assignment] = root / "unzipped"
        return cache[assignment]
    return get


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_contract_is_this_assignments(assignment, kits):
    """CONTRACT.md holds this assignment's section only (its level-1 heading, no other's)."""
    text = (kits(assignment) / assignment / "CONTRACT.md").read_text()
    headings, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("# "):
            headings.append(line)
    named = [re.findall(r"`(\w+)` assignment", h) for h in headings]
    assert named and all(n == [assignment] for n in named), \
        f"{assignment}'s CONTRACT.md has the sections {headings}"
    others = [a for a in ASSIGNMENTS if a != assignment and f"The `{a}` assignment" in text]
    assert not others, f"{assignment}'s CONTRACT.md has the sections of {others}"


def train_starts(line, cwd, env):
    """Run a training command until it prints its first progress line (or ends with status 0)."""
    proc = start(["bash", "-c", line], cwd=cwd, env=env)
    seen, deadline = [], time.monotonic() + TRAIN_START_S
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            if not ready:
                continue
            out = proc.stdout.readline()
            if not out:  # ended
                proc.wait(timeout=30)
                assert proc.returncode == 0, f"{line!r} failed ({proc.returncode}):\n" + "".join(seen[-40:])
                return
            seen.append(out)
            assert "Traceback (most recent call last)" not in out, f"{line!r}:\n" + "".join(seen[-40:])
            if PROGRESS.match(out):
                return
        raise AssertionError(f"{line!r}: no progress line in {TRAIN_START_S} s:\n" + "".join(seen[-40:]))
    finally:
        kill_group(proc)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_kit_journey(assignment, kits, student, run, dlgrade, env):
    needs_data()
    root = kits(assignment)
    folder = root / assignment
    senv = student["env"]
    lines = shell_commands((folder / "README.md").read_text())
    assert lines, "the kit's README shows no shell command"

    # 1. the README, as written (training deferred until the code is finished)
    cwd, trains, lessons = root, [], []
    for line in lines:
        for part in [p.strip() for p in line.split("&&")]:
            words = parses(part)
            if words[0] == "cd":
                cwd = cwd / words[1]
                assert cwd.is_dir(), f"{line!r}: no folder {cwd}"
            elif words[:3] in (["python3", "-m", "venv"], ["python", "-m", "venv"]) \
                    or (words[0] in (".", "source") and words[1].endswith("bin/activate")):
                continue  # the shared student venv stands in for the kit's own
            elif part in train_commands(assignment):  # the registry's TRAIN (train.py, rnn's train_series.py)
                trains.append((part, cwd))
            elif words[:2] == ["jupyter", "lab"]:  # interactive: the notebook runs headless instead
                lessons.append((words[2], cwd))
            else:
                wheel = words[:2] == ["pip", "install"] and any(w.endswith(".whl") for w in words)
                if wheel and student["installed"]:
                    part += " --force-reinstall --no-deps"
                run("bash", "-c", part, cwd=cwd, env=senv)
                student["installed"] |= wheel
    assert student["installed"], "the README installs no wheel"
    assert cwd == folder, f"the README's commands end in {cwd}, not the kit's folder"

    # the lesson's notebook, as the README opens it, on the stub: it runs in the student's venv
    # (the wheel alone) without an error, and each check says "not attempted"
    for notebook, where in lessons:
        run("jupyter", "nbconvert", "--to", "notebook", "--execute", notebook, "--output", "executed.ipynb",
            "--ExecutePreprocessor.timeout=300", cwd=where, env=senv)
        cells = json.loads((where / "executed.ipynb").read_text())["cells"]
        outputs = [o for c in cells if c["cell_type"] == "code" for o in c["outputs"]]
        assert not [o for o in outputs if o["output_type"] == "error"], notebook
        assert "not attempted" in "".join("".join(o.get("text", "")) for o in outputs)
        (where / "executed.ipynb").unlink()

    # 2. the stub: every item not attempted, exit 0
    stub = run("dlgrade", "check", cwd=folder, env=senv).stdout
    rows = check_table(stub)
    assert rows and {s for _, _, s in rows.values()} == {"not_attempted"}, stub

    # 3. the answer key's files (those the kit has): every public item passes but the untrained
    names = {p.name for p in folder.glob("*.py")}
    copied = {p.name for p in copy_key(assignment, folder, names).glob("*.py")} & names
    assert copied, "the kit has none of the answer key's files"
    out = run("dlgrade", "check", cwd=folder, env=senv).stdout
    rows, missing = check_table(out), trained_missing(out)
    assert set(rows) == set(check_table(stub)), out
    wrong = {i: r for i, r in rows.items() if r[2] != "passed" and not (i in missing and r[2] == "not_attempted")}
    assert not wrong, f"the answer key fails public items in the kit:\n{out}"
    assert all((REPO / "solutions" / assignment / f).is_file() for f in missing.values()), missing

    # 4. submit, and the instructor grades the zip with the wheel
    run("dlgrade", "submit", cwd=folder, env=senv)
    zipped = folder / "submission.zip"
    assert zipfile.is_zipfile(zipped)
    assert copied <= {n.rsplit("/", 1)[-1] for n in zipfile.ZipFile(zipped).namelist()}
    report = json.loads(run(dlgrade, "grade", assignment, zipped, "--format", "json").stdout)
    items = {i["id"]: i for i in report["items"]}
    assert set(rows) <= set(items)
    wrong = [f"{i['id']}: {i['score']}/{i['max_score']} {i['status']} {i['output'][:300]}" for i in items.values()
             if i["status"] != "passed" and not is_untrained(assignment, i)
             and not (is_timed(i["id"]) and i["status"] == "partial")]
    assert not wrong, "the instructor's grade of the submitted answer key:\n" + "\n".join(wrong)
    assert {i for i in items if is_untrained(assignment, items[i])} == set(missing)

    # 5. the README's training commands start on the finished code
    for line, where in trains:
        train_starts(line, where, senv)
