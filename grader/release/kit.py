"""`dlgrade release ASSIGNMENT --kit OUT`: the archive a course posts for its students.

The archive holds one folder, `<assignment>/`: the stubs and public cases (what `dlgrade release`
writes into `assignments/<assignment>/`), `CONTRACT.md` (the assignment's own section of
`docs/contracts.md`, one line per earlier assignment whose files it builds on), `README.md` for
students (every command in its ```bash blocks runs as written from the unzipped kit), and the
student tool as a wheel, `dlgrade_student-<version>-py3-none-any.whl`, built here from this
repository's `grader/` package without the instructor-only modules. It holds no `reference/`, no
`solutions/`, no known-bug variants, no hidden expected values and, unless `give_earlier`, no
earlier assignment's answer key (tests open the archive and check; docs/kits.md).
"""
import base64
import hashlib
import io
import json
import re
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

from grader import engine
from grader import course
from grader.release.stubs import ReleaseError, build as build_stubs, earlier_files, manifest_entry, train_commands

# grader modules that never go to students: the known-bug variants (they import reference/ and
# contain correct update rules), and the instructor's release, kit, nbgrader and class-view code.
INSTRUCTOR_ONLY = {"grader/mutants.py", "grader/reports/classview.py"}  # and all of grader/release/
DIST = "dlgrade_student"
DEPENDENCIES = ("numpy>=1.26", "click>=8.1", "matplotlib>=3.7")  # matplotlib: the feedback's figures
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def version() -> str:
    try:
        return metadata.version("dlgrade")
    except metadata.PackageNotFoundError:
        return "0.1.0"


def manifest(root: Path, assignments=None, default=None) -> dict:
    """What `dlgrade submit` packs for each assignment (see `grader.student.submit.manifest`); every
    assignment of the course unless `assignments` names some."""
    out = {a: manifest_entry(a, root) for a in (engine.assignments() if assignments is None else assignments)}
    return {"assignments": out, "default": default}


def student_modules(root: Path):
    """(path in the wheel, source file) for every student-side module of `grader/`."""
    pkg = root / "grader"
    for path in sorted(pkg.rglob("*.py")):
        rel = path.relative_to(root)
        if "__pycache__" in rel.parts or rel.parts[:2] == ("grader", "release") or rel.as_posix() in INSTRUCTOR_ONLY:
            continue
        yield str(rel), path


def _zip_write(zf, name, data: bytes, mode=0o644):
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (0o100000 | mode) << 16
    zf.writestr(info, data)


def build_wheel(root: Path, out_dir: Path, manifest_data: dict) -> Path:
    """A pure-Python wheel of the student tool (written directly, as PEP 427 describes, so that
    building it needs neither network nor build backend)."""
    ver = version()
    info = f"{DIST}-{ver}.dist-info"
    files = {name: path.read_bytes() for name, path in student_modules(root)}
    for name, path in course.registries(root):  # the item registries (no answers in them)
        files[f"grader/assignments/{name}.py"] = path.read_bytes()
    files["grader/student_kit.json"] = (json.dumps(manifest_data, indent=1, sort_keys=True) + "\n").encode()
    files[f"{info}/METADATA"] = "\n".join(
        ["Metadata-Version: 2.1", "Name: dlgrade-student", f"Version: {ver}",
         "Summary: dlgrade's student tool: check, data, submit",
         "Requires-Python: >=3.10", *(f"Requires-Dist: {d}" for d in DEPENDENCIES), ""]).encode()
    files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: dlgrade\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files[f"{info}/entry_points.txt"] = b"[console_scripts]\ndlgrade = grader.cli:main\n"
    files[f"{info}/top_level.txt"] = b"grader\n"
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    out = Path(out_dir) / f"{DIST}-{ver}-py3-none-any.whl"
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in files.items():
            _zip_write(zf, name, data)
    return out


def _files(names, quote=True) -> str:
    names = [f"`{n}`" if quote else n for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def earlier_lines(assignment: str, root: Path, *, give_earlier: bool = False) -> list:
    """One line per earlier assignment whose files `assignment` builds on: whose contract they
    follow, and whether the student copies in their own (the default) or gets working code."""
    by_source = {}
    for rel, (earlier, name) in sorted(earlier_files(assignment, root).items()):
        by_source.setdefault(earlier, []).append((rel, name))
    lines = []
    for earlier, files in by_source.items():
        written = [(r, n) for r, n in files if "# BEGIN SOLUTION" in (root / "solutions" / earlier / n).read_text()]
        given = [(r, n) for r, n in files if (r, n) not in written]
        parts = []
        if written:
            one = len(written) == 1
            parts.append(f"{_files(r for r, _ in written)} follow{'s' if one else ''} the `{earlier}` assignment's "
                         "contract: " + (f"given as working code (the `{earlier}` answer key)" if give_earlier else
                                         f"copy in your own {'file' if one else 'files'} from `{earlier}` (this kit "
                                         f"holds {'its stub' if one else 'their stubs'})"))
        parts += [f"`{r}` is given code" if r == n else f"`{r}` is `{earlier}`'s `{n}`, given code" for r, n in given]
        line = "- " + "; ".join(parts)
        lines.append(line + ".")
    return lines


def contract(assignment: str, root: Path, *, give_earlier: bool = False) -> str:
    """`assignment`'s own section of docs/contracts.md (the top-level heading that names "the
    `<assignment>` assignment"), with a line per earlier assignment whose files it builds on;
    lines about the course's internals (`reference/`, `solutions/`) are dropped."""
    path = root / "docs" / "contracts.md"
    if not path.is_file():
        raise ReleaseError(f"{path} not found: the kit's CONTRACT.md is its section for `{assignment}`")
    sections = re.split(r"(?m)^(?=# )", path.read_text())
    own = [s for s in sections if re.match(rf"# [^\n]*\bthe `{re.escape(assignment)}` assignment", s, re.I)]
    if len(own) != 1:
        raise ReleaseError(f"{path}: {len(own)} top-level sections name the `{assignment}` assignment "
                           f"(its CONTRACT.md is the one whose '# ' heading says \"the `{assignment}` assignment\")")
    heading, _, body = own[0].partition("\n")
    earlier = earlier_lines(assignment, root, give_earlier=give_earlier)
    text = heading + "\n" + ("\n" + "\n".join(earlier) + "\n" if earlier else "") + body
    lines = [line for line in text.splitlines() if "reference/" not in line and "solutions/" not in line]
    return "\n".join(lines).rstrip() + "\n"


def readme(assignment: str, wheel: str, man: dict, todo, *, give_earlier: bool = False, root: Path = None) -> str:
    """The kit's README.md. Every line of its ```bash blocks is one command that runs as written
    in one shell started where the kit was unzipped; training (which needs the finished code,
    the data and minutes) is in a ```sh block of its own."""
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
           f"Your work: fill in every `raise NotImplementedError` in {_files(todo)} following `CONTRACT.md`"
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
        from grader.release.nbgrader import notebook_modules  # the files with solution regions
        todo = [f for f in notebook_modules(assignment, root) if f not in earlier_files(assignment, root)]
        (stubs / "README.md").write_text(readme(assignment, wheel.name, man, todo, give_earlier=give_earlier,
                                                root=root))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for path in sorted(stubs.rglob("*")):
                if path.is_file():
                    _zip_write(zf, str(path.relative_to(tmp)), path.read_bytes())
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(buf.getvalue())
    return out
