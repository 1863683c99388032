"""Progressive hints for `dlgrade check`: the more often an item fails, the more its feedback says.

Level 1 (an item's first failing check run): which check failed and the failing element (where,
got, expected). Level 2 (it fails again): plus the pattern of the error (a constant factor, a
transpose, a flipped sign, all zeros). Level 3 (the third time and after): plus the known bug its
output matches, where the course knows one. The levels are the parts of a check's message that
the item pipeline keeps apart (`CheckResult.hints`); a check without them says all at level 1.

The count of failing runs is kept per item in the assignment folder (`ATTEMPTS`), written
atomically; an item that passes starts again at level 1. `dlgrade submit` never packs it, and a
missing, corrupt or hostile file counts as empty. `dlgrade grade` and its feedback show
everything, always: only `check` reads this module.
"""
import json
import os
import stat
from dataclasses import replace
from pathlib import Path

from grader import atomic
from grader.results import NOT_RUN, not_run

FOLDER = ".dlgrade"
ATTEMPTS = Path(FOLDER, "attempts.json")
LEVELS = 3
COUNTED = ("failed", "partial", "error", "timeout")  # a failing run; `not_attempted` counts nothing
MAX_BYTES = 256 * 1024  # a larger attempts file is not ours: it counts as empty
MAX_ITEMS, MAX_COUNT = 2000, 10 ** 6
NEXT = {1: "the pattern of the error", 2: "the known bug it matches, if the course knows one"}


def load(folder) -> dict:
    """{item id: failing runs so far} from `folder`'s attempts file; {} when there is none or it
    is not one we wrote (not a regular file, too large, not JSON, not the expected shape)."""
    try:
        fd = os.open(Path(folder) / ATTEMPTS, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except (OSError, ValueError):
        return {}
    try:
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return {}
            data = f.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            return {}
        counts = json.loads(data.decode("utf-8")).get("attempts")
    except (OSError, ValueError, AttributeError, RecursionError):
        return {}
    if not isinstance(counts, dict):
        return {}
    return dict(list((k, v) for k, v in counts.items() if isinstance(k, str) and len(k) <= 200
                     and type(v) is int and 0 < v <= MAX_COUNT)[:MAX_ITEMS])


def save(folder, counts: dict) -> str:
    """Write `counts` to `folder`'s attempts file atomically (a temporary file and a rename);
    "" when written, else why not, in a few words (check goes on without it)."""
    where = Path(folder) / FOLDER
    try:
        if where.is_symlink() or (where.exists() and not where.is_dir()):
            return f"{where} is not a folder"
        if not where.is_dir():
            where.mkdir()
            (where / ".gitignore").write_text("# dlgrade check's hint levels: not part of your work\n*\n")
        atomic.write(Path(folder) / ATTEMPTS, json.dumps({"version": 1, "attempts": dict(sorted(counts.items()))},
                                                        indent=1))
    except OSError as exc:
        return f"{exc.strerror or exc} ({where})"
    return ""


def advance(counts: dict, items) -> dict:
    """The counts after a check run of `items` (`ItemResult`s): a failing item's count goes up by
    one, a passing item's is dropped, the others (not attempted, or not run) stay as they were."""
    out = dict(counts)
    for i in items:
        if i.status == "passed":
            out.pop(i.id, None)
        elif i.status in COUNTED:
            out[i.id] = min(out.get(i.id, 0) + 1, MAX_COUNT)
    return out


def level(count: int) -> int:
    """The hint level of an item that has failed `count` check runs (this one included)."""
    return max(1, min(int(count), LEVELS))


def render(checks, level_: int) -> str:
    """An item's checks as `grader.results.render_checks` writes them, each failing check saying
    what its hints hold up to `level_`: its failing element, then the pattern, then the known bug."""
    lines, skipped = [], [c.name for c in checks if not_run(c)]
    for c in checks:
        if c.name in skipped:
            continue
        mark = "✓" if c.passed else ("~" if c.fraction > 0 else "✗")
        if c.hints and not c.passed:
            parts = dict(c.hints)
            lines.append(f"{mark} {c.name}: {parts.get(1, c.message)}")
            if level_ >= 2 and parts.get(2):
                lines.append(f"    pattern: {parts[2]}")
            if level_ >= 3 and parts.get(3):
                lines.append(f"    {parts[3]}")
            continue
        lines.append(f"{mark} {c.name}" + (f": {c.message}" if c.message and (not c.passed or c.credit is not None) else ""))
    if skipped:
        lines.append(f"✗ {NOT_RUN}: {'; '.join(skipped)}")
    return "\n".join(lines)


def held_back(checks, level_: int) -> bool:
    """Whether a failing check has a hint above `level_`."""
    return any(lvl > level_ and text for c in checks if not c.passed for lvl, text in c.hints)


def shown(report, levels: dict):
    """`report` with each item that failed and has checks rendered at its level (`levels`, by
    item id; an item not named shows every level), plus a line saying what the next level adds."""
    items = []
    for i in report.items:
        lvl = levels.get(i.id, LEVELS)
        if i.status in COUNTED and i.checks and any(c.hints for c in i.checks):
            out = render(i.checks, lvl)
            if held_back(i.checks, lvl):
                out += (f"\n(hint level {lvl} of {LEVELS}: if this item fails again, the next check shows "
                        f"{NEXT[lvl]}; `--all-hints` shows every level now)")
            i = replace(i, output=out)
        items.append(i)
    return replace(report, items=items)


def progress(folder, report, *, all_hints=False):
    """(the report at each item's hint level, a note or ""): counts this run in `folder`'s
    attempts file, written only when a count changed. A report that could not be graded at all
    counts nothing."""
    if report.error:
        return report, ""
    before = load(folder)
    counts = advance(before, report.items)
    problem = save(folder, counts) if counts != before else ""  # a passing folder gets no file
    levels = {} if all_hints else {i.id: level(counts.get(i.id, 1)) for i in report.items}
    note = f"hint levels not recorded: {problem}" if problem else ""
    return shown(report, levels), note
