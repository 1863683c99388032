"""`dlgrade release ASSIGNMENT --gradescope OUT`: the autograder zip Gradescope builds an image from.

The zip holds `setup.sh` (run once, as root, when the image is built: installs Python and
bubblewrap, installs dlgrade, not editable, from the copy of this project in the zip's `dlgrade/`
into `/autograder/venv`, and puts the verified datasets in `source/data-cache`) and
`run_autograder` (run as root for every submission, in a fresh container: chooses the sandbox,
grades `/autograder/submission` with `dlgrade grade --format gradescope` into
`/autograder/results/results.json`, and writes a results.json that says what went wrong if
grading itself fails). Hidden cases are drawn with a course secret made when the zip is built
(`salt.txt`), never the public default; it reaches dlgrade as a file name, never on a command line.

The scripts run as written anywhere: `AUTOGRADER_ROOT` (default `/autograder`) moves the tree and
`APT_GET` (default `apt-get`) replaces the package manager (`true` where Python 3 with venv and
bubblewrap are installed already); `DLGRADE_DATA` at set-up time copies local datasets in instead
of downloading them. Gradescope sets none of them. See docs/gradescope.md.
"""
import io
import secrets
import zipfile
from pathlib import Path

from grader import engine
from grader import course
from grader.student import data
from grader.release.wheel import ZIP_DATE
from grader.sandbox.course_drivers import FILE as DRIVERS_FILE

PROJECT_FILES = ("pyproject.toml", "README.md")
PACKAGES = ("grader", "reference")

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, while building the autograder image (network available).
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
APT_GET="${APT_GET:-apt-get}"
SOURCE="$ROOT/source"
cd "$SOURCE"
export DEBIAN_FRONTEND=noninteractive
"$APT_GET" update -qq
"$APT_GET" install -y -qq python3 python3-venv python3-pip bubblewrap > /dev/null
python3 -m venv "$ROOT/venv"
"$ROOT/venv/bin/pip" install -q ./dlgrade
# The datasets, verified, in the image: copied from DLGRADE_DATA (a folder holding the raw
# files) where it has them, else downloaded; fetched and decoded while DLGRADE_DATA still names
# that folder (a local copy may have another name: IMDB's labelled re-pack).
export DLGRADE_CACHE="$SOURCE/data-cache"
mkdir -p "$DLGRADE_CACHE"
for file in @FILES@; do
    if [ -n "${DLGRADE_DATA:-}" ] && [ -f "$DLGRADE_DATA/$file" ]; then
        cp "$DLGRADE_DATA/$file" "$DLGRADE_CACHE/$file"
    fi
done
@FETCH@
unset DLGRADE_DATA
"""

RUN = r"""#!/usr/bin/env bash
# Gradescope runs this as root for every submission, in a fresh container: grade
# $ROOT/submission into $ROOT/results/results.json (docs/gradescope.md).
set -u
ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
VENV="$ROOT/venv"
export DLGRADE_CACHE="$SOURCE/data-cache"
export DLGRADE_COURSE="$SOURCE/dlgrade"  # the course files the zip carries (solutions/*/grading.py)
# The course secret that draws the hidden cases, the same on every regrade: named by its file,
# never put on a command line (any process may read another's /proc/PID/cmdline).
export DLGRADE_SECRET_FILE="$SOURCE/salt.txt"
unset DLGRADE_SECRET DLGRADE_DATA DLGRADE_SANDBOX
mkdir -p "$ROOT/results"
# The sandbox: bubblewrap where it can create namespaces. In a Docker container without
# CAP_SYS_ADMIN (Docker's default) it cannot; there each worker runs as an unprivileged uid of its
# own instead, once the course files, the results and the submission are closed to other users.
problem="$("$VENV/bin/python" -c 'from grader.sandbox.runner import bwrap_problem; print(bwrap_problem())' 2>&1)"
if [ -z "$problem" ]; then
    sandbox=bubblewrap
    jobs=2
else
    sandbox=uid
    jobs=1  # one item at a time: what an item leaves in shared folders is removed before the next
    echo "bubblewrap cannot sandbox workers here ($problem); using the uid sandbox"
    site="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    chmod go-rwx "$SOURCE" "$ROOT/results" "$ROOT/submission" "$site/grader" "$site/reference" "$site/dlgrade_course"
    chmod o+x "$ROOT" "$VENV" "$VENV/lib" "$(dirname "$site")" "$site"  # workers reach NumPy (traverse, not list)
    if [ -e "$ROOT/submission_metadata.json" ]; then chmod go-rwx "$ROOT/submission_metadata.json"; fi
    export DLGRADE_SANDBOX=uid
fi
echo "sandbox: $sandbox"
SUBMISSION="$ROOT/submission"
# A student who uploaded submission.zip (from `dlgrade submit`): grade the zip.
zips=("$SUBMISSION"/*.zip)
if [ ${#zips[@]} -eq 1 ] && [ -f "${zips[0]}" ] && ! ls "$SUBMISSION"/*.py > /dev/null 2>&1; then
    SUBMISSION="${zips[0]}"
fi
TMP="$ROOT/results/results.json.tmp"
"$VENV/bin/dlgrade" grade @ASSIGNMENT@ "$SUBMISSION" --format gradescope -j "$jobs" > "$TMP"
status=$?
# The sandbox used goes into extra_data: stored with the results, never shown to students.
if [ -s "$TMP" ] && "$VENV/bin/python" - "$TMP" "$sandbox" << 'EOF'
import json, sys
path, sandbox = sys.argv[1:]
with open(path) as f:
    results = json.load(f)
results.setdefault("extra_data", {})["sandbox"] = sandbox
with open(path, "w") as f:
    json.dump(results, f, indent=1)
EOF
then
    mv "$TMP" "$ROOT/results/results.json"
else
    printf '%s\n' '{"score": 0, "execution_time": 0, "output": "The autograder could not grade this submission (exit status '"$status"'); your instructor has the log.", "visibility": "visible", "stdout_visibility": "hidden", "tests": [], "extra_data": {"sandbox": "'"$sandbox"'"}}' > "$ROOT/results/results.json"
fi
exit 0
"""


def setup_script(assignment: str) -> str:
    """setup.sh for `assignment`: its datasets fetched (and CIFAR-10 decoded) into the image."""
    datasets = course.data(assignment)
    fetch = [f'"$ROOT/venv/bin/dlgrade" data fetch {d}' for d in datasets]
    if "cifar10" in datasets:  # decoded once in the image, not in every submission's container
        fetch.append('"$ROOT/venv/bin/python" -c \'from grader import data; data.load_cifar10("test")\'')
    if "imdb" in datasets:  # the reviews and the training split's words, decoded once in the image
        fetch.append('"$ROOT/venv/bin/python" -c \'from grader import data; data.load_imdb("test"); '
                     'data.imdb_train_words()\'')
    files = " ".join(data.DATASETS[d].filename for d in datasets)
    return SETUP.replace("@FILES@", files).replace("@FETCH@", "\n".join(fetch))


def _add(zf, name, data: bytes, mode=0o644):
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (0o100000 | mode) << 16
    zf.writestr(info, data)


def grading_files(root: Path) -> list:
    """The course's grading files, never its answer keys: each assignment's registry, known bugs
    and worker drivers, and the course's datasets file (what pyproject.toml's package data names)."""
    names = course.INSTRUCTOR_FILES | {DRIVERS_FILE}
    files = [p for p in sorted((root / "solutions").glob("*/*.py")) if p.name in names]
    datasets = root / "solutions" / data.COURSE_FILE
    return files + ([datasets] if datasets.is_file() else [])


def build(assignment: str, root: Path, out: Path, salt: str = None) -> Path:
    """Write the autograder zip for `assignment` to `out` (a .zip path, or a folder to put it in)."""
    engine.items(assignment)  # an unknown assignment fails here
    out = Path(out)
    if out.suffix != ".zip":
        out = out / f"{assignment}-autograder.zip"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        _add(zf, "setup.sh", setup_script(assignment).encode(), 0o755)
        _add(zf, "run_autograder", RUN.replace("@ASSIGNMENT@", assignment).encode(), 0o755)
        _add(zf, "salt.txt", (salt or secrets.token_hex(16)).encode() + b"\n")
        for name in PROJECT_FILES:
            _add(zf, f"dlgrade/{name}", (root / name).read_bytes())
        for path in grading_files(root):
            _add(zf, f"dlgrade/{path.relative_to(root)}", path.read_bytes())
        for package in PACKAGES:
            for path in sorted((root / package).rglob("*.py")):
                if "__pycache__" not in path.parts:
                    _add(zf, f"dlgrade/{path.relative_to(root)}", path.read_bytes())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(buf.getvalue())
    return out
