"""`dlgrade submit`: check a student's folder and pack exactly the files the assignment needs.

What an assignment needs comes from its manifest (`grader.student.manifest`): in a student kit,
the `student_kit.json` packaged with the tool (written by `dlgrade release --kit`); in the course
repository, the same manifest computed from `solutions/`. The student side never imports
`grader.release`, the engine's reference oracle or `reference`.

A file an assignment takes from an earlier one (`layers.py` in `rnn`, from `mlp`) is released as
that assignment's stub; the manifest holds the stub's hash, and `earlier_stubs` names such a file
while the student has not copied in their own (docs/kits.md).
"""
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from grader import engine
from grader.student import curves
from grader.items.models import MAX_BYTES, WeightsError, load_weights
from grader.student.manifest import KIT_MANIFEST, manifest, packaged_manifest, stub_hash  # noqa: F401  (the CLI's names)


def earlier_stubs(assignment: str, folder: Path) -> list:
    """One line per file of `folder` that is still, unchanged, the stub of an earlier assignment's
    file ("layers.py is still the stub from mlp: copy in your own mlp/layers.py"); [] when none.
    For `dlgrade check` to print after its table, and `submit`'s warnings."""
    try:
        entries = manifest(assignment).get("earlier", [])  # kits built before this note hold none
    except engine.GradeError:  # a course without its answer keys (a wheel): nothing to compare with
        return []
    out = []
    for e in entries:
        path = Path(folder) / e["file"]
        try:
            same = path.is_file() and stub_hash(path.read_bytes()) == e["sha256"]
        except OSError:
            same = False
        if same:
            out.append(f"{e['file']} is still the stub from {e['from']}: copy in your own {e['from']}/{e['source']}")
    return out


def infer_assignment(folder: Path) -> str:
    """The assignment whose public cases sit in `folder` (item ids start with its name)."""
    path = Path(folder) / f"{engine.PUBLIC_CASES}.json"
    if not path.is_file():
        raise engine.GradeError(f"{path} not found: run this in your assignment folder or name the assignment")
    names = {item_id.split(".")[0] for item_id in json.loads(path.read_text())}
    if len(names) != 1 or not names <= set(engine.assignments()):
        raise engine.GradeError(f"{path}: cannot tell which assignment this is; name it")
    return names.pop()


@dataclass
class Plan:
    """What `submit` will pack, and what is wrong (errors stop it; warnings do not)."""
    files: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    warnings: list = field(default_factory=list)


def plan(assignment: str, folder: Path) -> Plan:
    folder, p = Path(folder), Plan()
    m = manifest(assignment)
    for rel in m["files"]:
        path = folder / rel
        if not path.is_file():
            p.errors.append(f"{rel} is missing (every file of the kit must be submitted)")
            continue
        try:
            compile(path.read_bytes(), str(path), "exec")
        except SyntaxError as exc:
            p.errors.append(f"{rel}:{exc.lineno}: SyntaxError: {exc.msg}")
            continue
        except ValueError as exc:
            p.errors.append(f"{rel}: {exc}")
            continue
        p.files.append(rel)
    p.warnings += earlier_stubs(assignment, folder)
    for rel in m.get("answers", []):  # the lesson's inline questions (graded by hand); kits before it have none
        if (folder / rel).is_file():
            p.files.append(rel)
        else:
            p.warnings.append(f"{rel} is missing: your answers to the inline questions will not be handed in")
    for w in m["weights"]:
        path = folder / w["file"]
        if not path.is_file():
            p.warnings.append(f"{w['file']} is missing: {w['item']} ({w['points']:g} points) will score 0; "
                              f"run {train_hint(m, w['file'])} to create it")
            continue
        size = path.stat().st_size
        if size > MAX_BYTES:
            p.errors.append(f"{w['file']} is {size / 1e6:.1f} MB, over the limit of {MAX_BYTES / 1e6:.0f} MB")
            continue
        try:
            load_weights(path)
        except WeightsError as exc:
            p.errors.append(f"{w['file']}: {exc}")
            continue
        p.files.append(w["file"])
        curve = curves.path_for(w["file"])
        if (folder / curve).is_file():
            try:
                curves.load(folder / curve)
                p.files.append(curve)
            except curves.CurveError as exc:
                p.warnings.append(f"{curve}: {exc}; not included")
    return p


def train_hint(entry: dict, weights: str) -> str:
    """The training command that writes `weights`, as the kit's README shows it: the one that
    names the file's stem (`--dataset names` for names_weights.npz), else every one."""
    commands = entry.get("train") or ["python train.py"]
    stem = Path(weights).name.split("_weights")[0]
    named = [c for c in commands if stem in c.split()]
    return " or ".join(f"`{c}`" for c in (named if len(named) == 1 else commands))


def pack(folder: Path, files, out: Path) -> Path:
    """Write `out` (a zip with `files` at its root, fixed timestamps) atomically."""
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel in sorted(files):
            info = zipfile.ZipInfo(rel, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, (Path(folder) / rel).read_bytes())
    tmp.replace(out)
    return out
