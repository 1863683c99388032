"""`dlgrade similarity`: which submissions share code, the kit's own code never counting.

The class (`linear`): four independent answer-key variants (tests/submissions/linear/variants/
a, b, c, d: each scores 100/100), each filled into the released stubs as a student fills them in,
and two planted copies among them:
- `fay` copies `ben` (variant b) verbatim, with comments and blank lines added;
- `eve` copies `dan` (variant d) with every identifier renamed and the code reformatted
  (variants/d_renamed: other names, comments, line breaks and blank lines);
and three students who share only the stub: `gus` and `hal` each wrote one small function (their
own way) and left the rest, `ivy` submitted the untouched stubs.

Run this file as a script to print every pair's scores (how `similarity.THRESHOLD` was chosen):
    python tests/grader/test_similarity.py
"""
import ast
import csv
import json
import os
import shutil
import subprocess
import sys
import zipfile
from importlib.util import find_spec
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script
    sys.path.insert(0, str(ROOT))

from grader.reports import similarity  # noqa: E402
from tests.conftest import dlgrade  # noqa: E402

VARIANTS = ROOT / "tests/submissions/linear/variants"
STUBS = ROOT / "assignments/linear"
MODULES = ("linear.py", "logistic.py")
COPIES = {("ben", "fay"), ("dan", "eve")}
INDEPENDENT = ("ann", "ben", "cat", "dan")   # variants a, b, c, d
STUB_ONLY = ("gus", "hal", "ivy")

needs_copydetect = pytest.mark.skipif(find_spec("copydetect") is None, reason="needs copydetect: pip install -e '.[test]'")


def filled(stub: str, variant: str) -> str:
    """The stub with each `raise NotImplementedError` region replaced by the body of the variant's
    function of the same name; the variant's own helpers (`_reg_term`) go at the end."""
    vlines = variant.splitlines(keepends=True)
    defs = {n.name: n for n in ast.parse(variant).body if isinstance(n, ast.FunctionDef)}
    lines, regions = stub.splitlines(keepends=True), []
    for node in ast.parse(stub).body:
        if isinstance(node, ast.FunctionDef) and node.name in defs and isinstance(node.body[-1], ast.Raise):
            v, start = defs.pop(node.name), node.body[-1].lineno - 1
            start -= lines[start - 1].strip() == "# YOUR CODE HERE"
            regions.append((start, node.body[-1].end_lineno, "".join(vlines[v.body[0].lineno - 1:v.end_lineno])))
    for start, end, body in sorted(regions, reverse=True):
        lines[start:end] = [body]
    return "".join(lines) + "".join("\n\n" + "".join(vlines[n.lineno - 1:n.end_lineno]) for n in defs.values())


def with_comments(text: str) -> str:
    """A verbatim copy dressed up: a blank line and a comment before every `return`."""
    out = []
    for line in text.splitlines(keepends=True):
        if line.lstrip().startswith("return "):
            out.append(f"\n{line[:len(line) - len(line.lstrip())]}# the result\n")
        out.append(line)
    return "".join(out)


def only(body: str):
    """A student who wrote `gd_step` (this body) and nothing else."""
    region = '    """\n    # YOUR CODE HERE\n    raise NotImplementedError\n\n\ndef fit_logistic'
    return lambda text: text.replace(region, f'    """\n{body}\n\n\ndef fit_logistic') if region in text else text


CLASS = {  # student: (variant or None for the stubs, a change made to each module's text)
    "ann": ("a", None), "ben": ("b", None), "cat": ("c", None), "dan": ("d", None),
    "eve": ("d_renamed", None), "fay": ("b", with_comments),
    "gus": (None, only("    return w - lr * dw, b - lr * db")),
    "hal": (None, only("    new_w = w - dw * lr\n    new_b = b - db * lr\n    return new_w, new_b")),
    "ivy": (None, None),
}


def write_submission(folder: Path, variant, change=None) -> Path:
    folder.mkdir(parents=True)
    for m in MODULES:
        text = (STUBS / m).read_text()
        if variant:
            text = filled(text, (VARIANTS / variant / m).read_text())
        (folder / m).write_text(change(text) if change else text)
    return folder


def make_class(where: Path) -> list:
    return [write_submission(where / name, *spec) for name, spec in CLASS.items()]


@pytest.fixture(scope="module")
def fixture_class(tmp_path_factory):
    return make_class(tmp_path_factory.mktemp("class"))


@pytest.fixture(scope="module")
def kit():
    return similarity.kit_code("linear")


@pytest.fixture(scope="module")
def every_pair(fixture_class, kit, tmp_path_factory):
    """{(a, b): Pair} of every pair of the class."""
    subs = similarity.read_submissions("linear", fixture_class, kit.modules, tmp_path_factory.mktemp("work"))
    return {(p.a, p.b): p for p in similarity.compare(subs, kit, keep_all=True).pairs}


def flagged(pairs: dict) -> set:
    return {ab for ab, p in pairs.items() if similarity.flags(p)}


# --------------------------------------------------------------------------- what is flagged
@needs_copydetect
def test_the_students_write_linear_and_logistic_and_the_kit_is_boilerplate(kit):
    assert kit.modules == list(MODULES)
    assert {(STUBS / m).read_text() for m in MODULES} <= set(kit.boilerplate)


@pytest.mark.parametrize("assignment", ["linear", "mlp", "cnn", "autoencoder", "rnn", "sentiment"])
def test_an_installed_wheel_without_answer_keys_compares_the_same_modules(assignment):
    """The instructor's wheel carries the released stubs, not the answer keys: what it compares,
    and the stubs it discounts, are the clone's (the given earlier code aside)."""
    from grader import course
    clone, wheel = similarity.kit_code(assignment), similarity.released_kit(assignment, course.root())
    assert wheel.modules == clone.modules
    assert set(wheel.boilerplate) <= set(clone.boilerplate)


@needs_copydetect
def test_both_planted_copies_are_flagged_and_nothing_else(every_pair):
    assert flagged(every_pair) == COPIES


@needs_copydetect
def test_the_renamed_and_reformatted_copy_is_found_in_both_directions(every_pair):
    p = every_pair["dan", "eve"]
    assert p.overlap_a > 0.9 and p.overlap_b > 0.9 and p.tokens > 1000, p
    assert (VARIANTS / "d/linear.py").read_text() != (VARIANTS / "d_renamed/linear.py").read_text()


@needs_copydetect
def test_the_verbatim_copy_overlaps_entirely(every_pair):
    p = every_pair["ben", "fay"]
    assert p.overlap_a == p.overlap_b == 1.0


@needs_copydetect
def test_independent_variants_stay_well_below_the_threshold(every_pair):
    """Measured: at most 24% of a whole submission and 26% of one module (ann and dan: the same
    short runs such as `X.shape[0]` and `np.arange(N), y]`), against 91% and more for the copies."""
    independent = [p for ab, p in every_pair.items() if ab not in COPIES and not set(ab) & set(STUB_ONLY)]
    assert len(independent) == 13  # variants a-d pairwise (6), and the copies with the others (7)
    most = max(max(p.score, *(max(m["overlap_a"], m["overlap_b"]) for m in p.modules.values())) for p in independent)
    assert most < 0.3 < similarity.THRESHOLD  # 26% (ann and dan's linear.py)


@needs_copydetect
def test_the_stubs_shared_code_is_not_counted(every_pair, fixture_class, kit, tmp_path):
    """gus and hal share every line of the stubs and each wrote one small function: not flagged,
    nor with anyone. Without the stubs as boilerplate the same pair is nearly identical, which
    is what this test would catch if boilerplate stopped being discounted."""
    assert not any(set(ab) & set(STUB_ONLY) for ab in flagged(every_pair))
    assert every_pair["gus", "hal"].tokens < similarity.MIN_TOKENS
    assert all(p.overlap_a == p.overlap_b == 0 for ab, p in every_pair.items() if "ivy" in ab)
    subs = similarity.read_submissions("linear", fixture_class, kit.modules, tmp_path)
    bare = similarity.compare(subs, similarity.Kit("linear", kit.modules, []), keep_all=True)
    naive = {(p.a, p.b): p for p in bare.pairs}
    assert naive["gus", "hal"].score > 0.9 and similarity.flags(naive["gus", "hal"])
    assert naive["gus", "ivy"].score > 0.9


@needs_copydetect
def test_one_copied_module_among_honest_ones_is_flagged_by_that_module(kit, tmp_path):
    """kim wrote linear.py (variant c) and copied dan's logistic.py: a third of kim's code, under
    the threshold for the whole submission (40%), all of kim's logistic.py."""
    dan = write_submission(tmp_path / "dan", "d")
    kim = write_submission(tmp_path / "kim", "c")
    shutil.copy(dan / "logistic.py", kim / "logistic.py")
    subs = similarity.read_submissions("linear", [dan, kim], kit.modules, tmp_path / "work")
    (pair,) = similarity.compare(subs, kit).pairs
    assert pair.score < similarity.THRESHOLD
    assert pair.modules["logistic.py"]["overlap_a"] == pair.modules["logistic.py"]["overlap_b"] == 1.0
    assert pair.modules["linear.py"]["overlap_a"] < 0.2


@needs_copydetect
def test_a_few_obvious_lines_in_common_are_not_a_copy(every_pair):
    """gus wrote only gd_step's one-liner, the way ann did: most of gus's own code is in ann's,
    but it is 58 normalised characters, under MIN_TOKENS."""
    p = every_pair["ann", "gus"]
    assert p.overlap_b > similarity.THRESHOLD and p.tokens < similarity.MIN_TOKENS


# --------------------------------------------------------------------------- the command
def _zip(folder: Path, to: Path) -> Path:
    with zipfile.ZipFile(to, "w") as zf:
        for f in sorted(folder.iterdir()):
            zf.write(f, f"{folder.name}/{f.name}")
    return to


@needs_copydetect
def test_the_command_writes_csv_json_and_html_of_the_flagged_pairs(fixture_class, tmp_path):
    subs = [str(p) for p in fixture_class]
    subs[1] = str(_zip(fixture_class[1], tmp_path / "ben.zip"))  # zips and folders alike
    out = tmp_path / "out"
    result = dlgrade("similarity", "linear", *subs, "-o", out)
    assert result.returncode == 0, result.stderr
    assert [line.split()[:2] for line in result.stdout.splitlines()] == [["ben", "fay"], ["dan", "eve"]]
    rows = list(csv.DictReader((out / "similarity.csv").open()))
    assert [(r["a"], r["b"]) for r in rows] == [("ben", "fay"), ("dan", "eve")]
    assert rows[0]["submission_a"] == subs[1] and float(rows[1]["overlap_b"]) > 0.9
    assert int(rows[1]["matched_tokens"]) > 1000
    data = json.loads((out / "similarity.json").read_text())
    assert data["threshold"] == similarity.THRESHOLD and data["modules"] == list(MODULES)
    assert [(p["a"], p["b"]) for p in data["pairs"]] == [("ben", "fay"), ("dan", "eve")]
    assert data["compared"] == 36
    page = (out / "similarity.html").read_text()
    assert page.count('<section id="pair-') == 2 and page.count("<mark>") > 20
    assert "num_samples" in page and "viol" in page  # eve's own text, beside dan's


@needs_copydetect
def test_threshold_zero_lists_every_pair(fixture_class, tmp_path):
    result = dlgrade("similarity", "linear", *fixture_class[:4], "-o", tmp_path, "--threshold", "0",
                     "--min-tokens", "0")
    assert result.returncode == 0, result.stderr
    assert len(list(csv.DictReader((tmp_path / "similarity.csv").open()))) == 6


@pytest.mark.parametrize("args, message", [
    (("nosuch", "{a}", "{b}", "-o", "{out}"), "Invalid value for 'ASSIGNMENT'"),
    (("linear", "{a}", "{tmp}/missing.zip", "-o", "{out}"), "{tmp}/missing.zip: no such file or folder"),
    (("linear", "{a}", "-o", "{out}"), "1 of 1 submissions can be compared"),
    (("linear", "{a}", "{tmp}/empty", "-o", "{out}"), "1 of 2 submissions can be compared"),
    (("linear", "{a}", "{b}", "-o", "{tmp}/missing/out"), "-o {tmp}/missing/out: folder {tmp}/missing does not exist"),
    (("linear", "{a}", "{b}", "-o", "{a}/linear.py"), "-o {a}/linear.py: not a folder"),
    (("linear", "{a}", "{b}"), "Missing option '-o'"),
], ids=["unknown-assignment", "missing-path", "one-submission", "one-comparable", "outdir-missing-parent",
        "outdir-a-file", "no-outdir"])
@needs_copydetect
def test_bad_usage_is_one_line_and_exit_2_before_any_work(args, message, fixture_class, tmp_path):
    (tmp_path / "empty").mkdir()
    names = {"a": fixture_class[0], "b": fixture_class[1], "tmp": tmp_path, "out": tmp_path / "out"}
    result = dlgrade("similarity", *(a.format(**names) for a in args))
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"error: {message.format(**names)}"), result.stderr
    assert not (tmp_path / "out").exists()


def test_without_copydetect_it_names_the_extra_and_exits_2(tmp_path):
    code = "import sys; sys.modules['copydetect'] = None; from grader.cli import main; main()"
    result = subprocess.run([sys.executable, "-c", code, "similarity", "linear", str(STUBS), str(STUBS), "-o",
                             str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "pip install 'dlgrade[similarity]'" in result.stderr and not (tmp_path / "out").exists()



# --------------------------------------------------------------------------- hostile submissions
@needs_copydetect
def test_hostile_names_and_content_are_escaped_and_links_never_followed(fixture_class, tmp_path):
    hostile = "<img src=x onerror=alert(1)>"
    copy = tmp_path / hostile
    shutil.copytree(fixture_class[1], copy)  # ben's code, with a comment that closes the page's tags
    (copy / "linear.py").write_text((copy / "linear.py").read_text().replace(
        "    total = 0.0\n", "    total = 0.0  # </pre></div><script>alert('x')</script>\n", 1))
    linked = tmp_path / "linked"
    linked.mkdir()
    for m in MODULES:  # links to dan's files: never read, so nothing to compare
        os.symlink(fixture_class[3] / m, linked / m)
    (tmp_path / "<script>.zip").write_bytes(b"not a zip")
    out = tmp_path / "out"
    result = dlgrade("similarity", "linear", fixture_class[1], copy, fixture_class[3], linked,
                     tmp_path / "<script>.zip", "-o", out)
    assert result.returncode == 0, result.stderr
    assert f"warning: {linked}: not compared: nothing to grade" in result.stderr
    page = (out / "similarity.html").read_text()
    assert "<script>" not in page and "<img" not in page and "onerror=alert(1)>" not in page
    assert "&lt;/pre&gt;&lt;/div&gt;&lt;script&gt;" in page and "&lt;script&gt;.zip" in page
    pairs = json.loads((out / "similarity.json").read_text())["pairs"]
    assert len(pairs) == 1 and pairs[0]["submission_b"] == str(copy) and "<" not in pairs[0]["b"]


@needs_copydetect
def test_a_spreadsheet_formula_as_a_name_is_quoted_in_the_csv(fixture_class, tmp_path):
    shutil.copytree(fixture_class[1], tmp_path / "=HYPERLINK(1)")
    dlgrade("similarity", "linear", fixture_class[1], "=HYPERLINK(1)", "-o", "out", cwd=tmp_path)
    row = next(csv.DictReader((tmp_path / "out/similarity.csv").open()))
    assert row["submission_b"] == "'=HYPERLINK(1)"


# --------------------------------------------------------------------------- the class view
@needs_copydetect
def test_the_class_view_lists_the_pairs_in_either_order_and_grades_never_change(fixture_class, tmp_path):
    subs = [fixture_class[1], fixture_class[5], fixture_class[6]]  # ben, fay (a copy) and gus
    grade = ("grade", "linear", *subs, "--item", "linear.logistic", "-j", "1", "--no-sandbox", "-o")
    plain, first, second = tmp_path / "plain", tmp_path / "first", tmp_path / "second"
    assert dlgrade(*grade, plain).returncode == 0
    assert dlgrade(*grade, first).returncode == 0                          # grade, then similarity
    assert dlgrade("similarity", "linear", *subs, "-o", first).returncode == 0
    assert dlgrade("similarity", "linear", *subs, "-o", second).returncode == 0  # similarity, then grade
    assert dlgrade(*grade, second).returncode == 0
    for out in (first, second):
        page = (out / "summary.html").read_text()
        assert "<h2>Similarity</h2>" in page and '<a href="similarity.html">' in page
        assert "<td>ben</td><td>fay</td>" in page and page.count("similarity.html#pair-") == 1
        assert (out / "grades.csv").read_bytes() == (plain / "grades.csv").read_bytes()
    assert "Similarity" not in (plain / "summary.html").read_text()


def test_a_summary_written_before_the_section_existed_gets_it(tmp_path):
    (tmp_path / "summary.html").write_text("<html><body><h1>old</h1></body></html>\n")
    (tmp_path / "similarity.json").write_text(json.dumps({
        "assignment": "linear", "threshold": 0.5, "pairs": [
            {"a": "<b>", "b": "c", "overlap_a": 1, "overlap_b": 0.9, "matched_tokens": 500}]}))
    similarity.update_summary(tmp_path)
    page = (tmp_path / "summary.html").read_text()
    assert page.index("<h1>old</h1>") < page.index("<h2>Similarity</h2>") < page.index("</body>")
    assert "<td>&lt;b&gt;</td>" in page
    similarity.update_summary(tmp_path)  # rewritten in place, never twice
    assert (tmp_path / "summary.html").read_text() == page


def test_the_students_tool_never_holds_the_review(tmp_path):
    from grader.release import wheel
    shipped = {rel for rel, _ in wheel.student_modules(ROOT)}
    assert "grader/cli/__init__.py" in shipped
    assert not {"grader/cli/review.py", "grader/reports/similarity.py", "grader/cli/instructor.py"} & shipped


if __name__ == "__main__":  # the measurement behind similarity.THRESHOLD and MIN_TOKENS
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        paths, kit_ = make_class(Path(tmp) / "class"), similarity.kit_code("linear")
        subs_ = similarity.read_submissions("linear", paths, kit_.modules, Path(tmp) / "work")
        for p in similarity.compare(subs_, kit_, keep_all=True).pairs:
            kind = "copy" if (p.a, p.b) in COPIES else "stub only" if {p.a, p.b} & set(STUB_ONLY) else "independent"
            module = max((max(v["overlap_a"], v["overlap_b"]), m) for m, v in p.modules.items()) if p.modules else (0, "")
            print(f"{p.a}-{p.b}  a in b {p.overlap_a:6.1%}  b in a {p.overlap_b:6.1%}  {p.tokens:5d} chars  "
                  f"(most in one module: {module[0]:6.1%} {module[1]:11})  {kind}{'  FLAGGED' if similarity.flags(p) else ''}")
