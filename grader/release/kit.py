"""`dlgrade release ASSIGNMENT --kit OUT`: the archive a course posts for its students.

The archive holds one folder, `<assignment>/`: the stubs and public cases (what `dlgrade release`
writes into `assignments/<assignment>/`), `CONTRACT.md` (`grader.release.contract`), `README.md`
for students (every command in its ```bash blocks runs as written from the unzipped kit), and the
student tool as a wheel, `dlgrade_student-<version>-py3-none-any.whl`, built from the explicit
list of what students receive (`grader.release.wheel`). It holds no `reference/`, no
`solutions/`, no known-bug variants, no hidden expected values and, unless `give_earlier`, no
earlier assignment's answer key (tests open the archive and check; docs/kits.md). An assignment
with a lesson (`solutions/<a>/lesson.md`) also gets its companion notebook, `<assignment>.ipynb`
(`grader.release.lesson.kit_notebook`), and `answers.md` for the lesson's inline questions.
"""
import io
import json
import tempfile
import zipfile
from pathlib import Path

from grader import course
from grader import engine
from grader.release import lesson as lessons
from grader.release.contract import contract, earlier_lines, files_text
from grader.release.stubs import build as build_stubs, notebook_modules
from grader.release.wheel import build_wheel, manifest, zip_write
from grader.student.manifest import earlier_files, train_commands


def readme(assignment: str, wheel: str, man: dict, todo, *, give_earlier: bool = False, root: Path = None,
           notebook: str = "") -> str:
    """The kit's README.md. Every line of its ```bash blocks is one command that runs as written
    in one shell started where the kit was unzipped; training (which needs the finished code,
    the data and minutes) is in a ```sh block of its own; opening the lesson's notebook (which needs
    Jupyter, not part of the kit) in a ```shell block."""
    its = engine.items(assignment)
    public = [i for i in its if i.visibility == "public"]
    hidden = [i for i in its if i.visibility == "hidden"]
    entry = man["assignments"][assignment]
    weights = entry["weights"]
    points = lambda items: f"{sum(i.points for i in items):g}"  # noqa: E731
    if hidden:
        scope = (f"{len(public)} of them ({points(public)} points) are public: `dlgrade check` runs them on your\n"
                 "machine. The other "
                 + (f"item ({points(hidden)} points) is" if len(hidden) == 1 else
                    f"{len(hidden)} items ({points(hidden)} points) are") + " hidden: your instructor grades "
                 + ("it" if len(hidden) == 1 else "them") + " with fresh random inputs.")
    else:
        scope = "All of them are public: `dlgrade check` runs every one on your machine."
    earlier = earlier_lines(assignment, root, give_earlier=give_earlier) if root is not None else []
    stubs = entry.get("earlier", []) if not give_earlier else []
    out = [f"# The `{assignment}` assignment", "",
           f"Your work: fill in every `raise NotImplementedError` in {files_text(todo)} following `CONTRACT.md`"
           + (", then train the graded models (below)." if weights else "."),
           f"{len(its)} items, {points(its)} points. {scope}"]
    if earlier:
        out += ["", "This assignment builds on earlier ones:", *earlier]
    if stubs:
        out += ["`dlgrade check` and `dlgrade submit` name each of these files while it is still the stub."]
    data = course.data(assignment)
    out += ["", "## Install (once)", "",
            "In a terminal, in the folder where you unzipped the kit:", "", "```bash",
            f"cd {assignment}",
            "python3 -m venv .venv",
            ". .venv/bin/activate          # Windows: .venv\\Scripts\\activate",
            f"pip install {wheel}"]
    out += [f"dlgrade data fetch {d}" + ("    # download, verify and cache the data" if k == 0 else "")
            for k, d in enumerate(data)]
    out += ["```", "", "## Work", "", "```bash",
            "dlgrade check                  # every public item on this folder: a table, then what failed"]
    if public:
        out.append(f"dlgrade check --item {public[0].id.rsplit('.', 1)[0]}    # one part only")
    if weights:
        out.append("python train.py --help         # the training options")
    out += ["dlgrade submit                 # checks the files, runs the public items, writes submission.zip", "```",
            "", "`dlgrade check` never downloads anything: an item whose data is missing says so in one line and",
            "the other items are still checked."]
    if weights:
        out += ["", "## Train (once `dlgrade check` passes)", "",
                "Training needs your finished code and the data, and takes minutes:", "", "```sh",
                *train_commands(assignment), "```", "",
                "Trained weights graded from this folder:",
                *(f"- `{w['file']}` ({w['item']}, {w['points']:g} points)" for w in weights)]
    if notebook:
        out += ["", "## The lesson", "",
                f"`{notebook}` walks through the assignment: the math of each function, a check right after you",
                "write it, a numerical gradient check, experiments and figures made by your code, and questions",
                "you answer in `answers.md` (handed in by `dlgrade submit`). Open it with Jupyter, in the same",
                "environment:", "", "```shell", "pip install jupyterlab", f"jupyter lab {notebook}", "```"]
    out += ["", "Hand in `submission.zip` as your course says (for example upload it to Gradescope).", ""]
    return "\n".join(out)


def build_kit(assignment: str, root: Path, out: Path, *, give_earlier: bool = False) -> Path:
    """Write the kit archive for `assignment` to `out` (a .zip path, or a folder to put it in).
    Files from earlier assignments are their stubs unless `give_earlier` (their answer keys as
    working code: only once those assignments' deadlines have passed)."""
    out = Path(out)
    if out.suffix != ".zip":
        out = out / f"{assignment}-kit.zip"
    man = manifest(root, default=assignment)
    with tempfile.TemporaryDirectory() as tmp:
        stubs = Path(tmp, assignment)
        build_stubs(assignment, root, stubs, give_earlier=give_earlier)
        wheel = build_wheel(root, stubs, man)
        (stubs / "CONTRACT.md").write_text(contract(assignment, root, give_earlier=give_earlier))
        todo = [f for f in notebook_modules(assignment, root) if f not in earlier_files(assignment, root)]
        lesson = lessons.load(assignment, root)
        notebook = f"{assignment}.ipynb" if lesson else ""
        if lesson:
            (stubs / notebook).write_text(json.dumps(lessons.kit_notebook(lesson), indent=1) + "\n")
        (stubs / "README.md").write_text(readme(assignment, wheel.name, man, todo, give_earlier=give_earlier,
                                                root=root, notebook=notebook))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for path in sorted(stubs.rglob("*")):
                if path.is_file():
                    zip_write(zf, str(path.relative_to(tmp)), path.read_bytes())
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(buf.getvalue())
    return out
