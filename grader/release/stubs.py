"""`dlgrade release`: generate `assignments/<a>/` (student stubs) from `solutions/<a>/`.

What is released, and how (solution regions stripped, files from earlier assignments as their
stubs), is defined once in `grader.student.manifest`, on the student's side: the same functions
give `dlgrade submit` its manifest. Here: writing the released files and the public cases'
expected outputs beside them (so that `dlgrade check` works without `reference/`), and telling
whether the committed `assignments/` are in sync. The committed `assignments/` always hold the
stubs; `give_earlier` (the earlier answer keys as working code) is for kits only.
"""
import filecmp
import shutil
import tempfile
from pathlib import Path

import numpy as np

from grader import engine
from grader.sandbox import wire
from grader.student.manifest import (BEGIN, ReleaseError, earlier_files, released,  # noqa: F401  (ReleaseError: the CLI's)
                                     released_text)


def notebook_modules(assignment: str, root: Path) -> list:
    """The modules students write: released files with solution regions, those taken from an
    earlier assignment aside (the student copies in their own). The kit's README names them; the
    nbgrader notebook writes them with `%%writefile` cells."""
    sol = root / "solutions" / assignment
    earlier = earlier_files(assignment, root)
    return [str(rel) for rel in released(assignment, root) if rel.suffix == ".py" and str(rel) not in earlier
            and BEGIN in (sol / rel).read_text()]


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


# What running the student's commands in an assignment folder leaves there, never release output:
# Python's caches, `dlgrade check`'s figures and its hint levels (grader.student.hints).
WORKING_STATE = ("__pycache__", "feedback", ".dlgrade")


def _compare(fresh: Path, current: Path) -> list:
    names = {p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file()}
    have = {p.relative_to(current) for p in current.rglob("*")
            if p.is_file() and not set(p.relative_to(current).parts) & set(WORKING_STATE)}
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
