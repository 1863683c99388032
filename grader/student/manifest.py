"""An assignment's manifest: the files `dlgrade submit` packs, the trained weights it looks for,
and the files that are still an earlier assignment's stub.

In a student kit the manifest is `grader/student_kit.json`, written into the tool's wheel by
`dlgrade release --kit`. In the course repository it is computed here from `solutions/`, the
way `dlgrade release` releases the assignment: `grader.release` imports these functions, so what
a student receives is defined once, on the student's side of the boundary. Nothing here imports
`grader.release`, the engine or `reference`.

Released files. Every region between a line `# BEGIN SOLUTION` and a line `# END SOLUTION`
becomes `raise NotImplementedError` at the region's indentation; only `.py` and `.md` files are
released (`grading.py`, `mutants.py` and `drivers.py` never are, nor the lesson, `lesson.md`, and
the instructor's derivation notes, `derivations.md`). An assignment whose lesson asks inline
questions gets `answers.md`, a template with one heading per question id (`answers_template`),
which the student fills in and `dlgrade submit` hands in (the manifest's "answers").

Files from an earlier assignment. A later assignment builds on the student's own earlier code:
its registry declares those files, `EARLIER = {"layers.py": "mlp/layers.py", ...}` (file here:
the earlier assignment's file). In `solutions/` they are symbolic links to the earlier answer key
(or copies of it, as in a wheel, which cannot hold links), so the answer key keeps working. By
default they are released as the earlier assignment's **stub** (its solution regions stripped)
under a header comment telling the student to copy in their own file; `dlgrade check` and
`dlgrade submit` name a file that is still that stub (`grader.student.submit.earlier_stubs`). A
file without solution regions (given code such as `mlp_model.py`) is released unchanged. The
instructor opts into the earlier answer key as working code, after the earlier deadline, with
`give_earlier=True` (`dlgrade release A --kit OUT --give-earlier`). Release follows the
declaration, never `is_symlink()`, so a course installed from a wheel releases the same files;
a link that is not declared is an error.
"""
import hashlib
import json
import re
from pathlib import Path

from grader import course
from grader.course import INSTRUCTOR_FILES
from grader.items import TrustedItem
from grader.results import GradeError
from grader.sandbox.course_drivers import FILE as DRIVERS_FILE

BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
RELEASED = {".py", ".md"}
# In solutions/<a>/ and never released: the registry, the known bugs, the course's own worker
# drivers (which the kit's tool carries: grader.release.wheel).
NOT_RELEASED = INSTRUCTOR_FILES | {DRIVERS_FILE} | {"lesson.md", "derivations.md"}
LESSON = "lesson.md"    # the assignment's lesson (grader.release.lesson): notebooks are made from it
ANSWERS = "answers.md"  # the student's answers to the lesson's inline questions
KIT_MANIFEST = Path(__file__).parents[1] / "student_kit.json"  # grader/student_kit.json in a kit's tool
TRAIN = ("python train.py",)  # an assignment's training commands unless its registry's TRAIN says


class ReleaseError(Exception):
    """A malformed solution file or declaration (one-line message with file and line)."""


def packaged_manifest():
    """The manifest shipped inside a student kit's tool, or None in the course repository."""
    return json.loads(KIT_MANIFEST.read_text()) if KIT_MANIFEST.is_file() else None


def manifest(assignment: str) -> dict:
    """{"files": [released .py files], "weights": [{"file", "item", "points"}],
    "earlier": [{"file", "from", "source", "sha256"}], "train": [commands]} of `assignment`:
    the kit's packaged manifest, else computed from the course's `solutions/` (GradeError when
    neither knows it)."""
    packaged = packaged_manifest()
    if packaged is not None:
        if assignment not in packaged["assignments"]:
            raise GradeError(f"this kit is for {', '.join(packaged['assignments'])}, not {assignment}")
        return packaged["assignments"][assignment]
    try:
        return manifest_entry(assignment, course.root())
    except (ReleaseError, course.CourseError) as exc:
        raise GradeError(str(exc)) from None


def manifest_entry(assignment: str, root: Path) -> dict:
    """`manifest(assignment)` computed from the course at `root` (what `dlgrade release --kit`
    packages for every assignment)."""
    return {"files": [str(p) for p in released(assignment, root) if p.suffix == ".py"],
            "weights": [{"file": i.weights, "item": i.id, "points": i.points}
                        for i in course.load(assignment).ITEMS if isinstance(i, TrustedItem) and i.weights],
            "earlier": earlier_stubs(assignment, root), "train": list(train_commands(assignment)),
            "answers": [ANSWERS] if questions(assignment, root) else []}


def strip_solutions(text: str, name: str = "<file>") -> str:
    """Replace each solution region with `raise NotImplementedError`."""
    out, start = [], None
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        marker = line.strip()
        if marker == BEGIN:
            if start is not None:
                raise ReleaseError(f"{name}:{number}: nested {BEGIN} (the region opened at line {start} is not closed)")
            start = number
            indent = line[:len(line) - len(line.lstrip())]
            out.append(f"{indent}# YOUR CODE HERE\n{indent}raise NotImplementedError\n")
        elif marker == END:
            if start is None:
                raise ReleaseError(f"{name}:{number}: {END} without {BEGIN}")
            start = None
        elif start is None:
            out.append(line)
    if start is not None:
        raise ReleaseError(f"{name}:{start}: {BEGIN} is never closed")
    return "".join(out)


def keep_solutions(text: str) -> str:
    """Given code: drop the marker lines, keep the answers."""
    return "".join(line for line in text.splitlines(keepends=True) if line.strip() not in (BEGIN, END))


def released_files(solution_dir: Path):
    for path in sorted(solution_dir.rglob("*")):
        rel = path.relative_to(solution_dir)
        if path.is_file() and path.suffix in RELEASED and "__pycache__" not in rel.parts \
                and str(rel) not in NOT_RELEASED:
            yield rel


def earlier_files(assignment: str, root: Path) -> dict:
    """{file of `assignment`: (earlier assignment, its file)} from the registry's `EARLIER`,
    followed back to the assignment that wrote it (autoencoder's `layers.py` -> mlp), checked
    against `solutions/`: one-line `ReleaseError`s for a bad declaration or an undeclared link."""
    sol = Path(root) / "solutions"
    declared = getattr(course.load(assignment), "EARLIER", {})
    where = f"solutions/{assignment}/{course.REGISTRY}: EARLIER"
    if not isinstance(declared, dict):
        raise ReleaseError(f"{where} must be a dict {{file: 'assignment/file'}}")
    out = {}
    for rel, source in declared.items():
        earlier, _, name = str(source).partition("/")
        if not (isinstance(rel, str) and earlier and name) or earlier == assignment:
            raise ReleaseError(f"{where}: {rel!r}: {source!r} is not 'earlier-assignment/file'")
        path = sol / earlier / name
        if not path.is_file():
            raise ReleaseError(f"{where}: {rel!r}: solutions/{source} does not exist")
        here = sol / assignment / rel
        if here.is_file() and here.read_bytes() != path.read_bytes():
            raise ReleaseError(f"solutions/{assignment}/{rel} differs from solutions/{source}, which "
                               f"{course.REGISTRY}'s EARLIER says it comes from (make it a link to it)")
        seen = {(assignment, rel)}
        while True:  # the assignment that wrote it
            further = getattr(course.load(earlier), "EARLIER", {}).get(name) if course.registry_path(earlier) else None
            if not further or (earlier, name) in seen:
                break
            seen.add((earlier, name))
            earlier, _, name = str(further).partition("/")
        out[rel] = (earlier, name)
    for rel in released_files(sol / assignment):
        path = sol / assignment / rel
        if path.is_symlink() and str(rel) not in out:
            raise ReleaseError(f"solutions/{assignment}/{rel} is a link to {path.readlink()}: name it in "
                               f"{course.REGISTRY}'s EARLIER (for example {str(rel)!r}: 'mlp/{rel.name}') "
                               f"to release it as that assignment's file")
    return out


def released(assignment: str, root: Path) -> list:
    """The files `release` writes for `assignment` (paths relative to its folder), public cases aside."""
    sol = Path(root) / "solutions" / assignment
    answers = {Path(ANSWERS)} if questions(assignment, root) else set()
    return sorted(set(released_files(sol)) | {Path(rel) for rel in earlier_files(assignment, root)} | answers)


QUESTION_LINE = re.compile(r"^\+\+\+ (\{.*\})\s*$")
QUESTION_ID = re.compile(r"^[a-z0-9_]+\.q\.[a-z0-9_-]+$")


def questions(assignment: str, root: Path) -> list:
    """[(id, points, text)] of the inline questions of `assignment`'s lesson, in order: the markdown
    cells whose MyST marker line is `+++ {"tags": ["question"], "question": "<a>.q.<name>", "points": P}`
    (`grader.release.lesson` reads the same cells with Jupytext and checks they agree)."""
    path = Path(root) / "solutions" / assignment / LESSON
    if not path.is_file():
        return []
    out, current = [], None
    for number, line in enumerate(path.read_text().splitlines(), 1):
        m = QUESTION_LINE.match(line)
        if m or line.startswith("```{code-cell}") or line.startswith("+++"):
            current = None
        if not m:
            if current is not None:
                current[2].append(line)
            continue
        try:
            meta = json.loads(m.group(1))
        except ValueError:
            raise ReleaseError(f"solutions/{assignment}/{LESSON}:{number}: cell metadata is not JSON") from None
        if "question" not in (meta.get("tags") or []):
            continue
        qid, points = meta.get("question"), meta.get("points", 1)
        if not (isinstance(qid, str) and QUESTION_ID.match(qid) and qid.startswith(assignment + ".q.")) \
                or not isinstance(points, (int, float)) or points < 0:
            raise ReleaseError(f"solutions/{assignment}/{LESSON}:{number}: a question needs \"question\": "
                               f"\"{assignment}.q.<name>\" and \"points\" >= 0, not {m.group(1)}")
        if any(q[0] == qid for q in out):
            raise ReleaseError(f"solutions/{assignment}/{LESSON}:{number}: question {qid} asked twice")
        current = [qid, points, []]
        out.append(current)
    return [(qid, points, "\n".join(lines).strip()) for qid, points, lines in out]


def answers_template(assignment: str, root: Path) -> str:
    """answers.md as released: one `## <question id>` heading per inline question, the question
    quoted under it, room for the answer."""
    out = [f"# `{assignment}`: your answers to the inline questions", "",
           "Write each answer under its question's heading; keep the headings as they are (your instructor",
           "reads and grades the answers by hand). `dlgrade submit` hands this file in.", ""]
    for qid, points, text in questions(assignment, root):
        out += [f"## {qid}", "", *("> " + line if line else ">" for line in text.splitlines()), "",
                f"({points:g} points)" if points != 1 else "(1 point)", "", "Your answer:", "", ""]
    return "\n".join(out)


def earlier_header(earlier: str, name: str) -> str:
    return (f"# From the `{earlier}` assignment: this is the stub of its {name}. Copy your own\n"
            f"# {earlier}/{name} over this file (`dlgrade check` names it while it is still the stub).\n")


def released_text(assignment: str, root: Path, rel, *, give_earlier: bool = False) -> str:
    """The text `release` writes for file `rel` of `assignment`: solution regions stripped; a
    file from an earlier assignment as that assignment's stub under `earlier_header` (or, with
    `give_earlier`, as its working code, the markers removed)."""
    rel = Path(rel)
    sol = Path(root) / "solutions"
    if str(rel) == ANSWERS and questions(assignment, root):
        return answers_template(assignment, root)
    earlier = earlier_files(assignment, root).get(str(rel))
    if earlier is None:
        text = (sol / assignment / rel).read_text()
        return strip_solutions(text, str(Path("solutions", assignment, rel))) if rel.suffix == ".py" else text
    text = (sol / earlier[0] / earlier[1]).read_text()
    if give_earlier or rel.suffix != ".py":
        return keep_solutions(text)
    stub = strip_solutions(text, str(Path("solutions", *earlier)))
    return stub if stub == keep_solutions(text) else earlier_header(*earlier) + stub  # given code as it is


def earlier_stubs(assignment: str, root: Path) -> list:
    """[{"file", "from", "source", "sha256"}] of the files of `assignment` released as an earlier
    assignment's stub, with the stub's hash (newlines as \\n): what `dlgrade check` names while
    the student has not copied in their own file (`grader.student.submit.earlier_stubs`)."""
    out = []
    for rel, (earlier, name) in sorted(earlier_files(assignment, root).items()):
        text = released_text(assignment, root, rel)
        if text.startswith(earlier_header(earlier, name)):
            out.append({"file": rel, "from": earlier, "source": name, "sha256": stub_hash(text.encode())})
    return out


def stub_hash(data: bytes) -> str:
    return hashlib.sha256(data.replace(b"\r\n", b"\n")).hexdigest()


def train_commands(assignment: str) -> tuple:
    """The commands that train the models graded from weights (the registry's `TRAIN`), as the
    kit's README shows them: each one runs as written in the kit's folder."""
    return tuple(getattr(course.load(assignment), "TRAIN", TRAIN))
