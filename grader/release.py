"""`dlgrade release`: generate `assignments/<a>/` (student stubs) from `solutions/<a>/`.

Every region between a line `# BEGIN SOLUTION` and a line `# END SOLUTION` becomes
`raise NotImplementedError` at the region's indentation. A file that is a symbolic link into
another assignment's solutions (`solutions/cnn/layers.py -> ../mlp/layers.py`) is given code
in this assignment: it is released with its answers, only the markers removed. Only `.py` and
`.md` files are released; trained weights and logs stay in `solutions/`. The public items' cases and expected outputs are written beside the stubs so that
`dlgrade check` works without `reference/`.
"""
import filecmp
import shutil
import tempfile
from pathlib import Path

import numpy as np

from . import api, wire

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
        if path.is_file() and path.suffix in RELEASED and "__pycache__" not in rel.parts:
            yield rel


def build(assignment: str, root: Path, out_dir: Path):
    """Write the released kit of `assignment` into `out_dir` (created, must not exist)."""
    solution_dir = root / "solutions" / assignment
    if not solution_dir.is_dir():
        raise ReleaseError(f"{solution_dir} not found (run from the course repository's root)")
    out_dir.mkdir(parents=True)
    for rel in released_files(solution_dir):
        path = solution_dir / rel
        text = path.read_text()
        if path.is_symlink():
            text = keep_solutions(text)
        elif rel.suffix == ".py":
            text = strip_solutions(text, str(Path("solutions", assignment, rel)))
        (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (out_dir / rel).write_text(text)
    api.save_public_cases(assignment, out_dir)


def release(assignment: str, root: Path) -> Path:
    """Regenerate `assignments/<assignment>/` from `solutions/<assignment>/`."""
    target = root / "assignments" / assignment
    with tempfile.TemporaryDirectory() as tmp:
        build(assignment, root, Path(tmp, assignment))
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
            if not _same_arrays(fresh / rel, current / rel):
                diffs.append(f"differs: {rel}")
        elif not filecmp.cmp(fresh / rel, current / rel, shallow=False):
            diffs.append(f"differs: {rel}")
    return diffs


def _same_arrays(a: Path, b: Path) -> bool:
    """Equal keys and values; floats to 1e-12 relative (BLAS rounding may differ by machine)."""
    fa, fb = wire.flatten(wire.load(a)), wire.flatten(wire.load(b))
    if fa.keys() != fb.keys():
        return False
    return all(x.shape == fb[k].shape and x.dtype == fb[k].dtype and
               np.allclose(x, fb[k], rtol=1e-12, atol=0, equal_nan=True) for k, x in fa.items())
