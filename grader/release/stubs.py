"""`dlgrade release`: generate `assignments/<a>/` (student stubs) from `solutions/<a>/`.

Every region between a line `# BEGIN SOLUTION` and a line `# END SOLUTION` becomes
`raise NotImplementedError` at the region's indentation. Only `.py` and `.md` files are
released; trained weights and logs stay in `solutions/`. The public items' cases and expected
outputs are written beside the stubs so that `dlgrade check` works without `reference/`.

Files from an earlier assignment. A later assignment builds on the student's own earlier code:
its registry declares those files, `EARLIER = {"layers.py": "mlp/layers.py", ...}` (file here:
the earlier assignment's file). In `solutions/` they are symbolic links to the earlier answer key
(or copies of it, as in a wheel, which cannot hold links), so the answer key keeps working. By
default they are released as the earlier assignment's **stub** (its solution regions stripped)
under a header comment telling the student to copy in their own file; `dlgrade check` and
`dlgrade submit` name a file that is still that stub (`grader.student.submit.earlier_stubs`). A file
without solution regions (given code such as `mlp_model.py`) is released unchanged. The
instructor opts into the earlier answer key as working code, after the earlier deadline, with
`give_earlier=True` (`dlgrade release A --kit OUT --give-earlier`); the committed `assignments/`
always hold the stubs. Release follows the declaration, never `is_symlink()`, so a course
installed from a wheel releases the same files; a link that is not declared is an error.
"""
import filecmp
import hashlib
import shutil
import tempfile
from pathlib import Path

import numpy as np

from grader import engine
from grader import course
from grader.sandbox import wire
from grader.course import INSTRUCTOR_FILES

BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
RELEASED = {".py", ".md"}


class ReleaseError(Exception):
    """A malformed solution file (one-line message with file and line)."""


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
                and str(rel) not in INSTRUCTOR_FILES:
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
    return sorted(set(released_files(sol)) | {Path(rel) for rel in earlier_files(assignment, root)})


def earlier_header(earlier: str, name: str) -> str:
    return (f"# From the `{earlier}` assignment: this is the stub of its {name}. Copy your own\n"
            f"# {earlier}/{name} over this file (`dlgrade check` names it while it is still the stub).\n")


def released_text(assignment: str, root: Path, rel, *, give_earlier: bool = False) -> str:
    """The text `release` writes for file `rel` of `assignment`: solution regions stripped; a
    file from an earlier assignment as that assignment's stub under `earlier_header` (or, with
    `give_earlier`, as its working code, the markers removed)."""
    rel = Path(rel)
    sol = Path(root) / "solutions"
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


TRAIN = ("python train.py",)  # an assignment's training commands unless its registry's TRAIN says


def train_commands(assignment: str) -> tuple:
    """The commands that train the models graded from weights (the registry's `TRAIN`), as the
    kit's README shows them: each one runs as written in the kit's folder."""
    return tuple(getattr(course.load(assignment), "TRAIN", TRAIN))


def manifest_entry(assignment: str, root: Path) -> dict:
    """What `dlgrade submit` packs for `assignment` and the earlier stubs it names (see
    `grader.student.submit.manifest`)."""
    return {"files": [str(p) for p in released(assignment, root) if p.suffix == ".py"],
            "weights": [{"file": i.weights, "item": i.id, "points": i.points}
                        for i in engine.items(assignment) if getattr(i, "weights", "")],
            "earlier": earlier_stubs(assignment, root), "train": list(train_commands(assignment))}


def build(assignment: str, root: Path, out_dir: Path, *, give_earlier: bool = False):
    """Write the released files of `assignment` into `out_dir` (created, must not exist); files
    from earlier assignments as their stubs, or as working code with `give_earlier`."""
    solution_dir = root / "solutions" / assignment
    if not solution_dir.is_dir():
        raise ReleaseError(f"{solution_dir} not found (run from the course repository's root)")
    out_dir.mkdir(parents=True)
    for rel in released(assignment, root):
        (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (out_dir / rel).write_text(released_text(assignment, root, rel, give_earlier=give_earlier))
    engine.save_public_cases(assignment, out_dir)


def release(assignment: str, root: Path, *, give_earlier: bool = False) -> Path:
    """Regenerate `assignments/<assignment>/` from `solutions/<assignment>/` (`give_earlier`: see
    `build`; `differences` compares with the default, the stubs)."""
    target = root / "assignments" / assignment
    with tempfile.TemporaryDirectory() as tmp:
        build(assignment, root, Path(tmp, assignment), give_earlier=give_earlier)
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(Path(tmp, assignment), target)
    return target


def differences(assignment: str, root: Path) -> list:
    """What `release` would change in `assignments/<assignment>/` (empty when in sync)."""
    target = root / "assignments" / assignment
    if not target.is_dir():
        return [f"{target} does not exist"]
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp, assignment)
        build(assignment, root, fresh)
        return _compare(fresh, target)


def _compare(fresh: Path, current: Path) -> list:
    names = {p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file()}
    have = {p.relative_to(current) for p in current.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}
    diffs = [f"missing: {p}" for p in sorted(names - have)] + [f"stale: {p}" for p in sorted(have - names)]
    for rel in sorted(names & have):
        if rel.suffix == ".npz":
            diffs += [f"differs: {rel}: {why}" for why in array_differences(fresh / rel, current / rel)]
        elif not filecmp.cmp(fresh / rel, current / rel, shallow=False):
            diffs.append(f"differs: {rel}")
    return diffs


# Computed arrays (expected outputs, inputs built with exp or log) may differ in their last bits
# between CPUs (libm, BLAS kernels, summation order). A float array is in sync when every entry is
# within SYNC_RTOL of the larger of itself and the array's largest magnitude: about 4,500 ulp for
# float64 and 80 ulp for float32, far below any change to a case or to the reference.
SYNC_RTOL = {np.dtype("float64"): 1e-12, np.dtype("float32"): 1e-5, np.dtype("float16"): 1e-2}


def array_differences(fresh: Path, current: Path) -> list:
    """What differs between two array files as `wire.save` writes them: one line per array, empty
    when in sync. Keys, shapes, dtypes and integer or boolean values must be equal; floats agree
    within `SYNC_RTOL` (NaN where NaN, infinities where the same infinities)."""
    fa, fb = wire.flatten(wire.load(fresh)), wire.flatten(wire.load(current))
    out = [f"{k}: missing" for k in sorted(fa.keys() - fb.keys())]
    out += [f"{k}: stale" for k in sorted(fb.keys() - fa.keys())]
    for key in sorted(fa.keys() & fb.keys()):
        why = _array_difference(fa[key], fb[key])
        if why:
            out.append(f"{key}: {why}")
    return out


def _array_difference(new, old):
    if new.shape != old.shape or new.dtype != old.dtype:
        return f"{old.dtype}{list(old.shape)} stored, {new.dtype}{list(new.shape)} now"
    if new.dtype.kind not in "fc":
        bad = int(np.sum(new != old))
        return f"{bad} of {new.size} entries differ" if bad else ""
    if not np.array_equal(np.isnan(new), np.isnan(old)) or \
            not np.array_equal(np.where(np.isinf(new), new, 0), np.where(np.isinf(old), old, 0)):
        return "NaN or infinite entries differ"
    finite = np.isfinite(new)
    if not finite.any():
        return ""
    a, b = np.abs(new[finite]).astype(np.float64), np.abs(old[finite]).astype(np.float64)
    err = np.abs(new[finite].astype(np.complex128 if new.dtype.kind == "c" else np.float64)
                 - old[finite].astype(np.complex128 if new.dtype.kind == "c" else np.float64))
    rtol = SYNC_RTOL.get(np.dtype(new.real.dtype), 1e-5)
    allowed = rtol * np.maximum(np.maximum(a, b), max(a.max(), b.max()))
    if (err <= allowed).all():
        return ""
    scale = max(a.max(), b.max())
    return (f"{int((err > allowed).sum())} of {new.size} entries differ by more than {rtol:g} of the array's "
            f"scale {scale:.3g}; largest difference {err.max():.3g} (relative to the scale {err.max() / scale:.2g})")
