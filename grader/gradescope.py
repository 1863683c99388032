"""`dlgrade release ASSIGNMENT --gradescope OUT`: the autograder zip Gradescope builds an image from.

The zip holds `setup.sh` (run once when the image is built: installs Python, bubblewrap, dlgrade
from the copy of this repository's `grader/` and `reference/` in the zip, and the datasets) and
`run_autograder` (run per submission: grades `/autograder/submission` with `dlgrade grade
--format gradescope` into `/autograder/results/results.json`, and writes a results.json that
says what went wrong if grading itself fails). Hidden cases are drawn with a salt made when the
zip is built (`salt.txt`), never the public default. `AUTOGRADER_ROOT` and `DLGRADE` override
`/autograder` and the dlgrade executable (the tests run it against a fake tree).
"""
import io
import secrets
import zipfile
from pathlib import Path

from . import api, course
from .kit import ZIP_DATE

PROJECT_FILES = ("pyproject.toml", "README.md")
PACKAGES = ("grader", "reference")

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, while building the autograder image (network available).
set -euo pipefail
cd /autograder/source
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq python3 python3-venv python3-pip bubblewrap > /dev/null
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install -q ./dlgrade
export DLGRADE_CACHE=/autograder/source/data-cache
{fetch}
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this for every submission: grade /autograder/submission into results.json.
set -u
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
SOURCE="$ROOT/source"
DLGRADE="${{DLGRADE:-/autograder/venv/bin/dlgrade}}"
export DLGRADE_CACHE="${{DLGRADE_CACHE:-$SOURCE/data-cache}}"
export DLGRADE_COURSE="$SOURCE/dlgrade"  # the course files the zip carries (solutions/*/grading.py)
export DLGRADE_SECRET="$(cat "$SOURCE/salt.txt")"  # the course secret: the same cases on every regrade
mkdir -p "$ROOT/results"
SUBMISSION="$ROOT/submission"
# A student who uploaded submission.zip (from `dlgrade submit`): grade the zip.
zips=("$SUBMISSION"/*.zip)
if [ ${{#zips[@]}} -eq 1 ] && [ -f "${{zips[0]}}" ] && ! ls "$SUBMISSION"/*.py > /dev/null 2>&1; then
    SUBMISSION="${{zips[0]}}"
fi
TMP="$ROOT/results/results.json.tmp"
"$DLGRADE" grade {assignment} "$SUBMISSION" --format gradescope --seed "$(cat "$SOURCE/salt.txt")" > "$TMP"
status=$?
if [ -s "$TMP" ]; then
    mv "$TMP" "$ROOT/results/results.json"
else
    printf '%s\\n' '{{"score": 0, "output": "The autograder could not grade this submission (exit status '"$status"'); your instructor has the log.", "visibility": "visible", "stdout_visibility": "hidden", "tests": []}}' > "$ROOT/results/results.json"
fi
exit 0
"""


def _add(zf, name, data: bytes, mode=0o644):
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (0o100000 | mode) << 16
    zf.writestr(info, data)


def build(assignment: str, root: Path, out: Path, salt: str = None) -> Path:
    """Write the autograder zip for `assignment` to `out` (a .zip path, or a folder to put it in)."""
    api.items(assignment)  # an unknown assignment fails here
    out = Path(out)
    if out.suffix != ".zip":
        out = out / f"{assignment}-autograder.zip"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        fetch = "\n".join(f"/autograder/venv/bin/dlgrade data fetch {d}" for d in course.data(assignment))
        _add(zf, "setup.sh", SETUP.format(fetch=fetch).encode(), 0o755)
        _add(zf, "run_autograder", RUN.format(assignment=assignment).encode(), 0o755)
        _add(zf, "salt.txt", (salt or secrets.token_hex(16)).encode() + b"\n")
        for name in PROJECT_FILES:
            _add(zf, f"dlgrade/{name}", (root / name).read_bytes())
        for path in sorted((root / "solutions").glob("*/*.py")):  # the registries and known bugs
            if path.name in course.INSTRUCTOR_FILES:
                _add(zf, f"dlgrade/{path.relative_to(root)}", path.read_bytes())
        for package in PACKAGES:
            for path in sorted((root / package).rglob("*.py")):
                if "__pycache__" not in path.parts:
                    _add(zf, f"dlgrade/{path.relative_to(root)}", path.read_bytes())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(buf.getvalue())
    return out
