"""The kit's `CONTRACT.md` (and the nbgrader release's): an assignment's own section of
`docs/contracts.md`, with one line per earlier assignment whose files it builds on; lines about
the course's internals (`reference/`, `solutions/`) are dropped."""
import re
from pathlib import Path

from grader.student.manifest import BEGIN, ReleaseError, earlier_files


def files_text(names, quote=True) -> str:
    """`a`, `a` and `b`, `a`, `b` and `c`."""
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
        written = [(r, n) for r, n in files if BEGIN in (root / "solutions" / earlier / n).read_text()]
        given = [(r, n) for r, n in files if (r, n) not in written]
        parts = []
        if written:
            one = len(written) == 1
            parts.append(f"{files_text(r for r, _ in written)} follow{'s' if one else ''} the `{earlier}` assignment's "
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
