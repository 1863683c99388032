"""docs/clauses.md maps every clause of the contract to the planted bugs that break it."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUBMISSIONS = ROOT / "tests" / "submissions"


def rows():
    """{clause id: [bug names]} from the table in docs/clauses.md."""
    out = {}
    for line in (ROOT / "docs" / "clauses.md").read_text().splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if len(cells) == 5 and cells[0] not in ("id", "---"):
            out[cells[0]] = [b.strip().split(" ")[0] for b in cells[4].split(",") if b.strip()]
    return out


def bug_files():
    """{name: path} of every planted submission ("speed/<name>" for speed submissions)."""
    out = {p.stem: p for p in SUBMISSIONS.glob("*/bugs/*.py")}
    out.update({f"speed/{p.stem}": p for p in SUBMISSIONS.glob("*/speed/*.py")})
    return out


def test_every_row_of_the_table_is_read():
    """A row the parser skipped (a sixth cell, an unescaped `|`) would drop its clause from every
    check below without a word: each table line is a clause read, or the header."""
    lines = [line for line in (ROOT / "docs" / "clauses.md").read_text().splitlines() if line.startswith("| ")]
    assert len(lines) - 1 == len(rows()) > 0  # the header's `| id | ...`; `|---|` lines do not start with "| "


@pytest.mark.parametrize("clause", sorted(rows()))
def test_every_clause_names_existing_bugs(clause):
    names = rows()[clause]
    assert names, f"clause {clause} has no planted bug"
    missing = [n for n in names if n not in bug_files()]
    assert not missing, f"clause {clause}: no such planted bug: {missing}"


def test_every_clause_header_is_in_its_row():
    table = rows()
    for name, path in bug_files().items():
        m = re.search(r"^# clause:(.*)$", path.read_text(), re.MULTILINE)
        for clause in ([c.strip() for c in m.group(1).split(",")] if m else []):
            assert clause in table, f"{path.name}: unknown clause {clause!r}"
            assert name in table[clause], f"{path.name}: not listed in the row of clause {clause!r}"
