"""`dlgrade release ASSIGNMENT --kit OUT`: the archive a course posts for its students.

The archive holds one folder, `<assignment>/`: the stubs and public cases (what `dlgrade release`
writes into `assignments/<assignment>/`), `CONTRACT.md` (the student-facing part of
`docs/contracts.md`), `README.md` for students, and the student tool as a wheel,
`dlgrade_student-<version>-py3-none-any.whl`, built here from this repository's `grader/`
package without the instructor-only modules. It holds no `reference/`, no `solutions/`, no
known-bug variants and no hidden expected values (tests open the archive and check).
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

from . import api, course
from .release import build as build_stubs, released_files

# grader modules that never go to students: the known-bug variants (they import reference/ and
# contain correct update rules), and the instructor's release, kit, nbgrader and class-view code.
INSTRUCTOR_ONLY = {"mutants.py", "release.py", "kit.py", "nbgrader.py", "classview.py", "gradescope.py"}
DIST = "dlgrade_student"
DEPENDENCIES = ("numpy>=1.26", "click>=8.1", "matplotlib>=3.7")  # matplotlib: the feedback's figures
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def version() -> str:
    try:
        return metadata.version("dlgrade")
    except metadata.PackageNotFoundError:
        return "0.1.0"


def manifest(root: Path, assignments=None, default=None) -> dict:
    """What `dlgrade submit` packs for each assignment (see `grader.submit.manifest`); every
    assignment of the course unless `assignments` names some."""
    out = {}
    for a in api.assignments() if assignments is None else assignments:
        files = [str(p) for p in released_files(root / "solutions" / a) if p.suffix == ".py"]
        out[a] = {"files": files, "weights": [{"file": i.weights, "item": i.id, "points": i.points}
                                              for i in api.items(a) if getattr(i, "weights", "")]}
    return {"assignments": out, "default": default}


def student_modules(root: Path):
    """(path in the wheel, source file) for every student-side module of `grader/`."""
    pkg = root / "grader"
    for path in sorted(pkg.rglob("*.py")):
        rel = path.relative_to(root)
        if "__pycache__" in rel.parts or (path.parent == pkg and path.name in INSTRUCTOR_ONLY):
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


def contract(assignment: str, root: Path) -> str:
    """The parts of docs/contracts.md a student of `assignment` needs: its own section and those of
    the assignments it builds on; lines about the course's internals (`reference/`) are dropped."""
    text = (root / "docs" / "contracts.md").read_text()
    sections = re.split(r"(?m)^(?=# )", text)
    keep = []
    for section in sections:
        keep.append(section)
        if re.match(rf"# .*`{assignment}`", section):
            break
    lines = [line for line in "".join(keep).splitlines() if "reference/" not in line and "solutions/" not in line]
    return "\n".join(lines).rstrip() + "\n"


def readme(assignment: str, wheel: str, man: dict, todo) -> str:
    its = api.items(assignment)
    public = [i for i in its if i.visibility == "public"]
    weights = man["assignments"][assignment]["weights"]
    data = "` and `dlgrade data fetch ".join(course.data(assignment))
    trained = "\n".join(f"- `{w['file']}` ({w['item']}, {w['points']:g} points)" for w in weights)
    return f"""# The `{assignment}` assignment

Your work: fill in every `raise NotImplementedError` in {', '.join(f'`{f}`' for f in todo)}
following `CONTRACT.md`, then train a model with `train.py`.
{len(its)} items, {sum(i.points for i in its):g} points; {len(public)} of them ({sum(i.points for i in public):g} points)
are public: `dlgrade check` runs them on your machine. The others are graded by your instructor
with fresh random inputs.

## Install (once)

```bash
cd {assignment}
python3 -m venv .venv && . .venv/bin/activate     # Windows: .venv\\Scripts\\activate
pip install {wheel}
dlgrade data fetch {data}                    # download, verify and cache the data
```

## Work

```bash
dlgrade check                          # every public item on this folder: a table, then what failed
dlgrade check --item {public[0].id.rsplit('.', 1)[0]}           # one part only
python train.py --help                 # then `python train.py`: writes the weights graded below
dlgrade submit                         # checks the files, runs the public items, writes submission.zip
```

`dlgrade check` never downloads anything: an item whose data is missing says so in one line and
the other items are still checked. Trained weights graded from this folder:
{trained}

Hand in `submission.zip` as your course says (for example upload it to Gradescope).
"""


def build_kit(assignment: str, root: Path, out: Path) -> Path:
    """Write the kit archive for `assignment` to `out` (a .zip path, or a folder to put it in)."""
    out = Path(out)
    if out.suffix != ".zip":
        out = out / f"{assignment}-kit.zip"
    man = manifest(root, default=assignment)
    with tempfile.TemporaryDirectory() as tmp:
        stubs = Path(tmp, assignment)
        build_stubs(assignment, root, stubs)
        wheel = build_wheel(root, stubs, man)
        (stubs / "CONTRACT.md").write_text(contract(assignment, root))
        from .nbgrader import notebook_modules  # the files with solution regions
        (stubs / "README.md").write_text(readme(assignment, wheel.name, man, notebook_modules(assignment, root)))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for path in sorted(stubs.rglob("*")):
                if path.is_file():
                    _zip_write(zf, str(path.relative_to(tmp)), path.read_bytes())
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(buf.getvalue())
    return out
