"""Lessons (grader/release/lesson.py): the kit's companion notebook and the nbgrader source notebook
made from `solutions/<a>/lesson.md`, executed top to bottom on the answer key and on the stub."""
import ast
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader import engine
from grader.release import lesson as lessons
from grader.release.nbgrader import source_notebook
from grader.release.nbgrader.intake import WRITEFILE, extract_modules
from grader.student.manifest import ReleaseError, answers_template, questions, released
from tests.conftest import ROOT, dlgrade

jupytext = pytest.importorskip("jupytext")
WITH_LESSON = ["linear", "mlp", "cnn", "autoencoder", "rnn", "sentiment"]
FIGURES = {"linear": 6,  # sigmoid, logistic boundaries, CIFAR-10 samples, loss curve, templates, loss slice
           "mlp": 5,     # activations and slopes, init-study histograms, std per layer, optimizer paths, training curves
           "cnn": 6,     # Sobel edges, max-pooled edges, tiny training loss, train.py's curve, filters, feature maps
           "autoencoder": 7,  # FC reconstructions, upsampled thumbnails, spikes scattered, both models' reconstructions,
                              # train.py's curves, codes projected to 2-D, a walk between two codes
           "rnn": 7,     # gradient through time (RNN, LSTM), sampler frequencies, train.py's curves, output vectors,
                         # the temperature forecast, word vectors
           "sentiment": 2}  # review lengths, train.py's curves
# What a student who did the work has in the kit's folder: the answer key's files over the stubs
# (an earlier assignment's files included) and the trained weights the accuracy items read.
KEY_FILES = {"linear": ("linear.py", "logistic.py", "softmax_weights.npz", "svm_weights.npz"),
             "mlp": ("layers.py", "losses.py", "optim.py", "init.py", "mlp_weights.npz"),
             "cnn": ("conv.py", "layers.py", "losses.py", "optim.py", "init.py", "backend.py", "mlp_model.py",
                     "cnn_weights.npz", "cnn_curve.json"),
             "autoencoder": ("autoencoder.py", "conv.py", "layers.py", "losses.py", "optim.py", "init.py", "backend.py",
                             "mlp_model.py", "fc_ae_weights.npz", "conv_ae_weights.npz", "fc_ae_curve.json",
                             "conv_ae_curve.json"),
             "rnn": ("rnn.py", "text.py", "word2vec.py", "layers.py", "losses.py", "optim.py", "init.py", "backend.py",
                     "mlp_model.py", "names_weights.npz", "shakespeare_weights.npz", "names_curve.json",
                     "shakespeare_curve.json", "series_weights.npz", "series_curve.json"),
             "sentiment": ("reviews.py", "pooling.py", "model.py", "rnn.py", "text.py", "layers.py", "losses.py",
                           "optim.py", "init.py", "backend.py", "mlp_model.py", "sentiment_weights.npz",
                           "sentiment_curve.json")}
# A planted bug per assignment: (file, text, replaced by, the item whose inline check fails and a
# phrase of its feedback, an item that still passes).
BROKEN = {"linear": ("logistic.py", "return w - lr * dw, b - lr * db", "return w + lr * dw, b + lr * db",
                     "linear.logistic.gd_step", "against the gradient", "linear.logistic.sigmoid"),
          "mlp": ("optim.py", "m_hat = new_m[k] / (1 - b1 ** t)\n            v_hat = new_v[k] / (1 - b2 ** t)",
                  "m_hat = new_m[k]\n            v_hat = new_v[k]", "mlp.optim.adam", "without bias correction",
                  "mlp.optim.momentum"),
          "cnn": ("conv.py", "        y *= 1.0 / (KH * KW)\n", "", "cnn.avgpool.forward",
                  "a missing or extra constant factor", "cnn.maxpool.forward"),
          "autoencoder": ("autoencoder.py", "return dy.reshape(N, C, H, sh, W, sw).sum(axis=(3, 5)), {}",
                          "return dy[:, :, ::sh, ::sw], {}", "autoencoder.upsample.backward",
                          "one entry of each block", "autoencoder.upsample.forward"),
          "rnn": ("rnn.py", "            dh = dh + dhs[:, t]\n            h = hs[:, t]\n",  # BPTT forgets step t+1
                  "            dh = dhs[:, t]\n            h = hs[:, t]\n", "rnn.rnn.backward",
                  "the gradient from step t+1 is not accumulated", "rnn.rnn.forward"),
          "sentiment": ("reviews.py", "ids[row, :len(kept)] = [index.get(word, UNK_ID) for word in kept]",
                        "ids[row, max_len - len(kept):] = [index.get(word, UNK_ID) for word in kept]",
                        "sentiment.text.encode", "the padding goes after the real ids", "sentiment.text.tokenize")}


def _text(cell):
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def _class(cell) -> ast.ClassDef:
    """The class a `%%writefile -a` cell defines."""
    return next(n for n in ast.parse(_text(cell).partition("\n")[2]).body if isinstance(n, ast.ClassDef))


@pytest.mark.parametrize("assignment", WITH_LESSON)
def test_the_kit_notebook_teaches(assignment):
    lesson = lessons.load(assignment, ROOT)
    nb = lessons.kit_notebook(lesson)
    cells = nb["cells"]
    assert sum(c["cell_type"] == "markdown" for c in cells) * 3 >= len(cells)
    implemented = [c for c in lesson.cells if c.kind == "implement"]
    assert implemented
    text = "\n".join(_text(c) for c in cells)
    for c in implemented:  # the forward math in LaTeX before each graded function
        k = next(i for i, cell in enumerate(cells) if f"implement `{c.name}` in `{c.module}`" in _text(cell))
        before = "\n".join(_text(x) for x in cells[max(0, k - 4):k] if x["cell_type"] == "markdown")
        assert "$" in before, c.name
        after = next(x for x in cells[k + 1:] if x["cell_type"] == "code")  # the check right after it
        assert _text(after).startswith("check("), c.name
    assert "%%writefile" not in text and "BEGIN SOLUTION" not in text
    for cell in lesson.cells:  # the model answers stay with the instructor
        if cell.kind == "answer":
            assert cell.source[:60] not in text
            assert not re.search(r"^#", cell.source, re.M), "a section swallowed by an answer: end it with +++"


@pytest.mark.parametrize("assignment", WITH_LESSON)
def test_the_nbgrader_notebook_writes_one_definition_per_cell(assignment, tmp_path):
    nb = source_notebook(assignment, ROOT)
    writes = [c for c in nb["cells"] if WRITEFILE.match(_text(c).partition("\n")[0])]
    for cell in writes:
        body = _text(cell).partition("\n")[2]
        defs = [n for n in ast.parse(body).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
        assert len(defs) <= 1 and (defs or "def " not in body), cell["id"]
    items = {i.id: i for i in engine.items(assignment)}
    graded = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade") and c["cell_type"] == "code"]
    assert sorted(c["source"].rsplit("score(", 1)[1][1:-2] for c in graded) == sorted(items)
    solution = [k for k, c in enumerate(nb["cells"]) if c["metadata"].get("nbgrader", {}).get("solution")
                and c["cell_type"] == "code"]
    for k in solution:  # each solution cell is followed by its checks (a base class: by a class derived from it)
        if "score(" not in nb["cells"][k + 1]["source"]:
            after = next(j for j in solution if j > k)
            assert all(x["cell_type"] == "markdown" for x in nb["cells"][k + 1:after]), nb["cells"][k]["id"]
            assert _class(nb["cells"][k]).name in [b.id for b in _class(nb["cells"][after]).bases], nb["cells"][k]["id"]
    manual = [c for c in nb["cells"] if c["cell_type"] == "markdown" and c["metadata"].get("nbgrader", {}).get("grade")]
    assert [c["id"] for c in manual] == [q.replace(".", "-") for q, _, _ in questions(assignment, ROOT)]
    assert all(c["metadata"]["nbgrader"]["solution"] and c["metadata"]["nbgrader"]["points"] > 0 for c in manual)
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(nb))
    files = extract_modules(path, nb["metadata"]["dlgrade"]["modules"])
    for name, code in files.items():  # the same definitions as the answer key (order and docstring aside)
        key = (ROOT / "solutions" / assignment / name).read_text()
        mine = {n.name: ast.dump(n) for n in ast.parse(code.replace("### ", "# ")).body if hasattr(n, "name")}
        theirs = {n.name: ast.dump(n) for n in ast.parse(key).body if hasattr(n, "name")}
        assert mine == theirs, name


@pytest.mark.parametrize("assignment", WITH_LESSON)
def test_answers_template_and_release(assignment):
    asked = questions(assignment, ROOT)
    assert len(asked) >= 3
    text = answers_template(assignment, ROOT)
    assert [line[3:] for line in text.splitlines() if line.startswith("## ")] == [q for q, _, _ in asked]
    names = {str(p) for p in released(assignment, ROOT)}
    assert "answers.md" in names and "lesson.md" not in names and "derivations.md" not in names
    assert (ROOT / "assignments" / assignment / "answers.md").read_text() == text


def test_a_bad_lesson_is_one_line(tmp_path, monkeypatch):
    root = tmp_path / "course"
    shutil.copytree(ROOT / "solutions" / "linear", root / "solutions" / "linear")
    lesson = root / "solutions" / "linear" / "lesson.md"
    good = lesson.read_text()
    bad = {"a check cell goes missing": good.replace('check("linear.logistic.gd_step")\n', "print(1)\n", 1),
           "an unknown item": good.replace('check("linear.predict")', 'check("linear.nope")'),
           "an unknown definition": good.replace("implement: linear.py:predict", "implement: linear.py:nope"),
           "a question without its answer": good.replace('+++ {"tags": ["answer"]}', "+++", 1),
           "an answer running on": good.replace("+++\n\n## 2. Ten classes", "## 2. Ten classes", 1)}
    patterns = {"a check cell goes missing": "no check cell between logistic.py:gd_step",
                "an unknown item": "has no such item", "an unknown definition": "is not a definition",
                "a question without its answer": "must be followed by a markdown cell tagged answer",
                "an answer running on": "runs on into the lesson"}
    for why, text in bad.items():
        lesson.write_text(text)
        with pytest.raises(ReleaseError, match=patterns[why]) as exc:
            lessons.load("linear", root)
        assert "\n" not in str(exc.value), why
    lesson.write_text(good)
    assert lessons.load("linear", root) is not None


def test_a_base_class_is_checked_with_the_class_derived_from_it(tmp_path):
    """mlp's Optimizer (weight decay, a solution region no item grades alone) is followed directly
    by SGD, which derives from it; the other way round is refused."""
    root = tmp_path / "course"
    for a in ("linear", "mlp"):  # mlp takes linear's backend.py (EARLIER)
        shutil.copytree(ROOT / "solutions" / a, root / "solutions" / a)
    lesson = root / "solutions" / "mlp" / "lesson.md"
    good = lesson.read_text()
    assert lessons.load("mlp", root) is not None
    swapped = good.replace("implement: optim.py:Optimizer", "implement: optim.py:@").replace(
        "implement: optim.py:SGD", "implement: optim.py:Optimizer").replace("implement: optim.py:@", "implement: optim.py:SGD")
    lesson.write_text(swapped)
    with pytest.raises(ReleaseError, match="no check cell between optim.py:SGD and the next implementation") as exc:
        lessons.load("mlp", root)
    assert "\n" not in str(exc.value)


# ---------------------------------------------------------------- executed top to bottom
def _execute(folder: Path, name: str) -> dict:
    r = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", name,
                        "--output", "executed.ipynb", "--ExecutePreprocessor.timeout=300"],
                       cwd=folder, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads((folder / "executed.ipynb").read_text())


def _outputs(nb):
    errors, figures, checks = [], 0, {}
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        text = "".join("".join(o.get("text", "")) for o in cell["outputs"] if o["output_type"] == "stream")
        errors += [o["ename"] for o in cell["outputs"] if o["output_type"] == "error"]
        errors += ["Traceback"] if "Traceback" in text else []
        figures += sum("image/png" in o.get("data", {}) for o in cell["outputs"])
        m = re.match(r"""check\(['"](.+)['"]\)""", _text(cell))
        if m:
            checks[m.group(1)] = text
    return errors, figures, checks


@pytest.fixture(scope="module", params=WITH_LESSON)
def kit(request, tmp_path_factory):
    """The unpacked kit of one assignment with a lesson (its folder is named after it)."""
    a = request.param
    out = tmp_path_factory.mktemp("kit")
    r = dlgrade("release", a, "--kit", out / f"{a}.zip")
    assert r.returncode == 0, r.stderr
    with zipfile.ZipFile(out / f"{a}.zip") as zf:
        zf.extractall(out)
        assert f"{a}/{a}.ipynb" in zf.namelist() and f"{a}/answers.md" in zf.namelist()
    return out / a


def test_on_the_stub_every_check_says_not_attempted(kit, needs_data, tmp_path):
    a = kit.name
    folder = tmp_path / a
    shutil.copytree(kit, folder)
    errors, figures, checks = _outputs(_execute(folder, f"{a}.ipynb"))
    assert not errors
    items = {i.id: i for i in engine.items(a)}
    assert sorted(checks) == sorted(items)
    for item, text in checks.items():
        if items[item].visibility == "hidden":
            assert "graded by your instructor" in text, item
        else:
            assert text.startswith(f"{item}: not attempted, 0 / "), (item, text)


def test_with_the_answer_key_it_runs_and_draws(kit, needs_data, tmp_path):
    a = kit.name
    folder = tmp_path / a
    shutil.copytree(kit, folder)
    for name in KEY_FILES[a]:
        (folder / name).unlink(missing_ok=True)
        shutil.copyfile(ROOT / "solutions" / a / name, folder / name)  # follows the links to earlier files
    nb = _execute(folder, f"{a}.ipynb")
    errors, figures, checks = _outputs(nb)
    assert not errors
    assert figures >= FIGURES[a]
    items = {i.id: i for i in engine.items(a)}
    for item, text in checks.items():
        if items[item].visibility == "public":
            assert text.startswith(f"{item}: passed"), (item, text)
    shown = "".join(_text(c) for c in nb["cells"])
    assert "not attempted yet" not in json.dumps(nb["cells"])
    assert "relative error" in shown
    if a == "mlp":  # every numerical gradient check the lesson prints is passed by the answer key
        printed = "".join("".join(o.get("text", "")) for c in nb["cells"] if c["cell_type"] == "code"
                          and ("gradient_error" in _text(c) or "rel_error(" in _text(c)) for o in c["outputs"])
        found = [float(e) for e in re.findall(r"\d\.\de[-+]\d\d", printed)]
        assert len(found) >= 25 and max(found) < 1e-6, found


def _cut_after_checks(folder: Path, name: str, items) -> str:
    """The notebook `name` cut after the check cell of the last of `items` (what those checks need
    is above them), written beside it: the name of the cut copy."""
    nb = json.loads((folder / name).read_text())
    last = max(k for k, cell in enumerate(nb["cells"]) if cell["cell_type"] == "code"
               and (m := re.match(r"""check\(['"](.+)['"]\)""", _text(cell))) and m.group(1) in items)
    nb["cells"] = nb["cells"][:last + 1]
    (folder / "cut.ipynb").write_text(json.dumps(nb))
    return "cut.ipynb"


def test_a_broken_function_fails_its_inline_check(kit, needs_data, tmp_path):
    """The check cell right after an implementation names the bug (the notebook does not just run;
    it runs up to the two checks that matter here)."""
    a = kit.name
    folder = tmp_path / a
    shutil.copytree(kit, folder)
    for name in KEY_FILES[a]:
        if name.endswith(".py"):
            (folder / name).unlink(missing_ok=True)
            shutil.copyfile(ROOT / "solutions" / a / name, folder / name)
    name, right, wrong, failing, phrase, passing = BROKEN[a]
    key = (folder / name).read_text()
    assert key.count(right) == 1
    (folder / name).write_text(key.replace(right, wrong))
    errors, _, checks = _outputs(_execute(folder, _cut_after_checks(folder, f"{a}.ipynb", (failing, passing))))
    assert not errors
    assert checks[failing].startswith(f"{failing}: failed")
    assert phrase in checks[failing]
    assert checks[passing].startswith(f"{passing}: passed")


def test_the_class_view_lists_each_students_answers(tmp_path):
    """answers.md from each submission (folder or zip) beside its feedback, linked from summary.html;
    never scored (it is not an item)."""
    from grader.reports import classview
    alice, bob = tmp_path / "alice", tmp_path / "bob.zip"
    alice.mkdir()
    (alice / "answers.md").write_text("## linear.q.xor\n\nA line cannot <b>separate</b> XOR.\n")
    with zipfile.ZipFile(bob, "w") as zf:
        zf.writestr("linear/answers.md", "## linear.q.xor\n\nNo idea.\n")
    carol = tmp_path / "carol"
    carol.mkdir()
    reports = [engine.Report("linear", str(p), []) for p in (alice, bob, carol)]
    page = classview.write(reports, tmp_path / "out")
    assert (tmp_path / "out/alice/answers.md").read_text().endswith("A line cannot <b>separate</b> XOR.\n")
    assert "No idea." in (tmp_path / "out/bob/answers.md").read_text()
    assert not (tmp_path / "out/carol/answers.md").exists()
    html = page.read_text()
    assert 'href="alice/answers.md"' in html and 'href="bob/answers.md"' in html and "carol/answers.md" not in html
    assert classview.read_answers(tmp_path / "nowhere") is None
