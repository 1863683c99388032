"""Code similarity of a class's submissions: the pairs that share code beyond the kit's own.

    kit = kit_code("linear")                        # the modules students write, and the boilerplate
    subs = read_submissions("linear", paths, kit.modules, workdir)
    result = compare(subs, kit, threshold=THRESHOLD)
    write(result, outdir)                           # similarity.csv, similarity.json, similarity.html

The comparison is copydetect's (`pip install 'dlgrade[similarity]'`): each module is tokenized
with names, strings and comments normalised away, and every run of `NOISE` normalised characters
is fingerprinted (MOSS-style k-grams; a window of 1 keeps every one). Fingerprints that also occur
in the boilerplate (the released stubs of the assignment and the code it gives, earlier
assignments' included) are dropped before anything is compared, so a kit's shared code never
counts, not even in the totals the overlaps are fractions of. Modules are compared with the module
of the same name: `overlap_a` is the share of a's own code (all its modules) found in b's, and
each module has its own overlaps.

A pair is flagged when either overlap, of the whole submissions or of one module, is at least the
threshold and that match holds at least `MIN_TOKENS` normalised characters (a submission that
wrote two lines must not be flagged because its two lines are the obvious ones; one copied
module among several honest ones is). Nothing here reads or writes a score. Submissions are read
as the grader reads them (`grader.engine.run.take_in`: zips unpacked safely, links never
followed), and everything taken from them is escaped in the page.
"""
import csv
import io
import json
import re
from dataclasses import asdict, dataclass, field
from html import escape
from pathlib import Path

from grader import atomic
from grader.reports.report import safe_cell

NOISE = 25          # copydetect's default: the shortest match counted, in normalised characters
THRESHOLD = 0.5     # measured on tests/submissions/linear/variants: see docs/instructors.md
MIN_TOKENS = 100    # ... and at least this many normalised characters in common
CONTEXT = 3         # lines shown around a matching region in the side-by-side view
FILES = ("similarity.csv", "similarity.json", "similarity.html")
INSTALL = "pip install 'dlgrade[similarity]'"
STUB = re.compile(r"^[ \t]+raise NotImplementedError\b", re.MULTILINE)  # what a released solution region is


class SimilarityError(Exception):
    """Similarity cannot be measured here (one line): copydetect is missing, or the course's
    answer keys are not there to release the boilerplate from."""


def require():
    """Raise SimilarityError unless copydetect can be imported."""
    try:
        import copydetect  # noqa: F401
    except ImportError as exc:
        raise SimilarityError(f"dlgrade similarity needs copydetect ({exc}): {INSTALL}") from None


@dataclass
class Kit:
    """What every student received: the `modules` they write (compared) and the `boilerplate`
    texts whose fingerprints never count (released stubs, given code)."""
    assignment: str
    modules: list
    boilerplate: list


@dataclass
class Submission:
    """One submission as named: its id (the class view's), its `files` ({module: text}) or why
    it cannot be compared (`error`)."""
    id: str
    path: str
    files: dict = field(default_factory=dict)
    error: str = ""


@dataclass
class Pair:
    """Two submissions' shared code: the share of each one's own code found in the other, the
    normalised characters matched on each side, the same per module (`modules`: {module:
    {"overlap_a", "overlap_b", "tokens"}}), and where ({module: [[start, end], ...]} in the
    files' text, for each side)."""
    a: str
    b: str
    overlap_a: float
    overlap_b: float
    tokens_a: int
    tokens_b: int
    modules: dict = field(default_factory=dict)
    regions_a: dict = field(default_factory=dict)
    regions_b: dict = field(default_factory=dict)

    @property
    def score(self) -> float:
        return max(self.overlap_a, self.overlap_b)

    @property
    def tokens(self) -> int:
        return min(self.tokens_a, self.tokens_b)


@dataclass
class Result:
    assignment: str
    submissions: list
    pairs: list              # the flagged pairs, highest score first
    threshold: float = THRESHOLD
    min_tokens: int = MIN_TOKENS
    compared: int = 0        # pairs compared
    modules: list = field(default_factory=list)


def kit_code(assignment: str, root=None) -> Kit:
    """The modules students write in `assignment` (released with solution regions; files from
    earlier assignments are compared when those are) and the boilerplate: every released `.py`
    file as released (stubs, given code) and the files from earlier assignments as working code
    too (what `--give-earlier` hands out)."""
    from grader import course
    from grader.release.stubs import notebook_modules
    from grader.student.manifest import ReleaseError, earlier_files, released, released_text
    try:
        root = Path(root or course.root())
        modules = notebook_modules(assignment, root)
        texts = [released_text(assignment, root, rel) for rel in released(assignment, root) if rel.suffix == ".py"]
        texts += [released_text(assignment, root, rel, give_earlier=True) for rel in earlier_files(assignment, root)]
    except (ReleaseError, course.CourseError, OSError):
        modules = []
    if not modules:  # no answer keys here (an installed wheel): the released stubs it carries
        return released_kit(assignment, root)
    return Kit(assignment, modules, texts)


def released_kit(assignment: str, root: Path) -> Kit:
    """The kit as an installed instructor's wheel knows it, without the answer keys: the released
    stubs it carries (`assignments/<a>/*.py`); the modules students write are those with a
    `raise NotImplementedError` of their own (not a file from an earlier assignment). The working
    code `--give-earlier` hands out is not among the boilerplate here (it is an answer key)."""
    from grader.student.manifest import ReleaseError, earlier_files
    files = sorted((root / "assignments" / assignment).glob("*.py"))
    try:
        earlier = set(earlier_files(assignment, root))
    except ReleaseError as exc:
        raise SimilarityError(f"{assignment}: {exc}") from None
    if not files:
        raise SimilarityError(f"{assignment}: neither the answer keys (solutions/) nor the released stubs "
                              "(assignments/) of the course are here")
    texts = {p.name: p.read_text() for p in files}
    modules = [n for n, t in texts.items() if n not in earlier and STUB.search(t)]
    if not modules:
        raise SimilarityError(f"{assignment}: no module with solution regions to compare")
    return Kit(assignment, modules, list(texts.values()))


def read_submissions(assignment: str, paths, modules, workdir) -> list:
    """Each path (folder or zip) taken in as grading takes it in (`run.take_in`), then the
    assignment's `modules` read from its assignment folder: regular files only, never a link."""
    from grader.engine.intake import assignment_folder
    from grader.engine.run import take_in
    from grader.reports.report import ids
    from grader.results import GradeError, Report
    from grader.sandbox.runner import SubmissionError, submission_files
    names = ids([Report(assignment, str(p), []) for p in paths])
    out = []
    for k, (sid, path) in enumerate(zip(names, paths)):
        sub = Submission(sid, str(path))
        entry = take_in(assignment, path, Path(workdir, str(k)), [])
        sub.error = entry.error
        if not sub.error:
            try:
                files = submission_files(assignment_folder(entry.folder, assignment))
                sub.files = {m: files[m].decode("utf-8", "replace") for m in modules if m in files}
            except (GradeError, SubmissionError) as exc:
                sub.error = str(exc)
        if not sub.error and not sub.files:
            sub.error = f"none of the modules compared ({', '.join(modules)})"
        out.append(sub)
    return out


def _fingerprint(text, name, boilerplate=None):
    from copydetect import CodeFingerprint
    return CodeFingerprint(name, NOISE, 1, boilerplate, language="python", fp=io.StringIO(text))


def boilerplate_hashes(texts):
    """The fingerprints of the boilerplate texts (every k-gram)."""
    import numpy as np
    hashes = [h for text in texts for h in _fingerprint(text, "boilerplate.py").hashes]
    return np.unique(np.array(hashes, dtype=np.int64))


def compare(submissions, kit: Kit, *, threshold=THRESHOLD, min_tokens=MIN_TOKENS, keep_all=False) -> Result:
    """Every pair of comparable submissions; the pairs flagged (or all of them, `keep_all`)."""
    from copydetect import compare_files
    boilerplate = boilerplate_hashes(kit.boilerplate)
    subs = [s for s in submissions if not s.error]
    prints = {s.id: {m: _fingerprint(text, m, boilerplate) for m, text in sorted(s.files.items())} for s in subs}
    own = {sid: sum(float(f.token_coverage) for f in fps.values()) for sid, fps in prints.items()}
    pairs, compared = [], 0
    for i, x in enumerate(subs):
        for y in subs[i + 1:]:
            compared += 1
            pair = Pair(x.id, y.id, 0.0, 0.0, 0, 0)
            for m in sorted(set(prints[x.id]) & set(prints[y.id])):
                fx, fy = prints[x.id][m], prints[y.id][m]
                tokens, (share_x, share_y), (sx, sy) = compare_files(fx, fy)
                if not tokens:
                    continue
                tokens_y = int(round(share_y * float(fy.token_coverage)))
                pair.tokens_a += int(tokens)
                pair.tokens_b += tokens_y
                pair.modules[m] = {"overlap_a": round(float(share_x), 4), "overlap_b": round(float(share_y), 4),
                                   "tokens": min(int(tokens), tokens_y)}
                pair.regions_a[m] = _regions(sx, len(fx.raw_code))
                pair.regions_b[m] = _regions(sy, len(fy.raw_code))
            pair.overlap_a = round(pair.tokens_a / own[x.id], 4) if own[x.id] else 0.0
            pair.overlap_b = round(pair.tokens_b / own[y.id], 4) if own[y.id] else 0.0
            if keep_all or flags(pair, threshold, min_tokens):
                pairs.append(pair)
    pairs.sort(key=lambda p: (-p.score, -p.tokens, p.a, p.b))
    return Result(kit.assignment, submissions, pairs, threshold, min_tokens, compared, list(kit.modules))


def flags(pair: Pair, threshold=THRESHOLD, min_tokens=MIN_TOKENS) -> bool:
    """Whether the whole submissions, or one module, overlap by `threshold` over `min_tokens`."""
    return any(max(m["overlap_a"], m["overlap_b"]) >= threshold and m["tokens"] >= min_tokens
               for m in [{"overlap_a": pair.overlap_a, "overlap_b": pair.overlap_b, "tokens": pair.tokens},
                         *pair.modules.values()])


def _modules_text(pair: Pair) -> str:
    """`linear.py 93%/91% (1000); logistic.py ...`: each matching module's overlaps and characters."""
    return "; ".join(f"{m} {v['overlap_a']:.0%}/{v['overlap_b']:.0%} ({v['tokens']})"
                     for m, v in sorted(pair.modules.items()))


def _regions(slices, size):
    """copydetect's slices (2, n) as sorted [[start, end], ...] within the text."""
    return [[int(min(s, size)), int(min(e, size))] for s, e in zip(*slices) if min(e, size) > s]


# --------------------------------------------------------------------------- outputs
def to_csv(result: Result) -> str:
    paths = {s.id: s.path for s in result.submissions}
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["a", "b", "submission_a", "submission_b", "overlap_a", "overlap_b", "matched_tokens",
                     "tokens_a", "tokens_b", "modules"])
    for p in result.pairs:
        writer.writerow([safe_cell(p.a), safe_cell(p.b), safe_cell(paths[p.a]), safe_cell(paths[p.b]), f"{p.overlap_a:.4f}",
                         f"{p.overlap_b:.4f}", p.tokens, p.tokens_a, p.tokens_b, _modules_text(p)])
    return buf.getvalue()


def to_dict(result: Result) -> dict:
    paths = {s.id: s.path for s in result.submissions}
    return {"assignment": result.assignment, "threshold": result.threshold, "min_tokens": result.min_tokens,
            "noise": NOISE, "modules": result.modules, "compared": result.compared,
            "submissions": [{"id": s.id, "submission": s.path, "modules": sorted(s.files), "error": s.error}
                            for s in result.submissions],
            "pairs": [{**{k: v for k, v in asdict(p).items() if not k.startswith("regions")},
                       "submission_a": paths[p.a], "submission_b": paths[p.b], "matched_tokens": p.tokens,
                       "regions_a": p.regions_a, "regions_b": p.regions_b} for p in result.pairs]}


def _highlighted(text: str, regions) -> str:
    """The text as escaped HTML lines, numbered, matching regions in <mark>; lines further than
    `CONTEXT` from any match folded into one "..." line."""
    lines, pos, rows, marked = text.splitlines(keepends=True) or [""], 0, [], []
    for line in lines:
        start, end = pos, pos + len(line.rstrip("\r\n"))  # the line without its line break
        pos, cur, parts = pos + len(line), start, []
        for a, b in regions:
            a, b = max(a, start), min(b, end)
            if a < b:
                parts += [escape(text[cur:a]), "<mark>", escape(text[a:b]), "</mark>"]
                cur = b
        marked.append(bool(parts))
        parts.append(escape(text[cur:end]))
        rows.append("".join(parts))
    out, folded = [], False
    for k, row in enumerate(rows):
        if any(marked[max(0, k - CONTEXT):k + CONTEXT + 1]):
            out.append(f'<span class=ln>{k + 1:>4}</span> {row}')
            folded = False
        elif not folded:
            out.append('<span class=ln>   …</span>')
            folded = True
    return "\n".join(out)


STYLE = """body{font-family:sans-serif;max-width:110em;margin:2em auto}td,th{padding:2px 8px}td.n{text-align:right}
tr:nth-child(even){background:#f4f4f4}.side{display:grid;grid-template-columns:1fr 1fr;gap:1em}
pre{background:#fafafa;border:1px solid #ddd;padding:.5em;overflow-x:auto;font-size:12px}
mark{background:#ffd54f}.ln{color:#999;user-select:none}"""


def to_html(result: Result) -> str:
    """A self-contained page: the flagged pairs, then each pair's matching modules side by side."""
    subs = {s.id: s for s in result.submissions}
    title = escape(f"{result.assignment}: code similarity of {len(subs)} submissions")
    rows, views = [], []
    for k, p in enumerate(result.pairs, 1):
        rows.append(f'<tr><td><a href="#pair-{k}">{k}</a></td><td>{escape(p.a)}</td><td>{escape(p.b)}</td>'
                    f'<td class=n>{p.overlap_a:.0%}</td><td class=n>{p.overlap_b:.0%}</td>'
                    f'<td class=n>{p.tokens}</td><td>{escape(_modules_text(p))}</td></tr>')
        sides = []
        for m in sorted(p.regions_a):
            v = p.modules[m]
            sides.append(f"<h3>{escape(m)}: {v['overlap_a']:.0%} of {escape(p.a)}'s in {escape(p.b)}'s, "
                         f"{v['overlap_b']:.0%} the other way ({v['tokens']} normalised characters)</h3><div class=side>"
                         f"<div><b>{escape(p.a)}</b><pre>{_highlighted(subs[p.a].files[m], p.regions_a[m])}</pre></div>"
                         f"<div><b>{escape(p.b)}</b><pre>{_highlighted(subs[p.b].files[m], p.regions_b[m])}</pre></div>"
                         f"</div>")
        views.append(f'<section id="pair-{k}"><h2>{k}. {escape(p.a)} and {escape(p.b)}: {p.overlap_a:.0%} of '
                     f'{escape(p.a)}\'s own code is in {escape(p.b)}\'s, {p.overlap_b:.0%} the other way '
                     f'({p.tokens} normalised characters)</h2>\n{"".join(sides)}</section>')
    skipped = [f"<li>{escape(s.id)} ({escape(s.path)}): {escape(s.error)}</li>" for s in result.submissions if s.error]
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title><style>{STYLE}</style></head>
<body><h1>{title}</h1>
<p>{len(result.pairs)} of {result.compared} pairs flagged: either side's overlap, of the whole submission
or of one module, at least {result.threshold:.0%}, over at least {result.min_tokens} normalised characters. The overlap of a is the share of a's own
code (the released stubs and given code never count) found in b's; modules compared:
{escape(", ".join(result.modules))}. Similarity is a reason to look, not a verdict; it never changes a score.
Data: <a href="similarity.csv">similarity.csv</a>, <a href="similarity.json">similarity.json</a>.</p>
<table><tr><th></th><th>a</th><th>b</th><th>a in b</th><th>b in a</th><th>matched</th><th>modules</th></tr>
{chr(10).join(rows)}
</table>
{"<h2>Not compared</h2><ul>" + "".join(skipped) + "</ul>" if skipped else ""}
{chr(10).join(views)}
</body></html>
"""


def write(result: Result, outdir) -> Path:
    """OUTDIR/similarity.csv, similarity.json and similarity.html (ASCII, non-ASCII as
    character references), and the Similarity section of an OUTDIR/summary.html already there."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    atomic.write(outdir / "similarity.csv", to_csv(result).encode("utf-8"))
    atomic.write(outdir / "similarity.json", (json.dumps(to_dict(result), indent=1) + "\n").encode("ascii"))
    atomic.write(outdir / "similarity.html", to_html(result).encode("ascii", "xmlcharrefreplace"))
    update_summary(outdir)
    return outdir / "similarity.html"


# --------------------------------------------------------------------------- the class view's section
BEGIN, END = "<!-- similarity -->", "<!-- /similarity -->"


def summary_section(outdir) -> str:
    """The Similarity section of summary.html from OUTDIR/similarity.json (between `BEGIN` and
    `END`; empty when there is none or it cannot be read)."""
    try:
        data = json.loads((Path(outdir) / "similarity.json").read_text())
        pairs = data["pairs"]
        rows = "".join(f'<tr><td><a href="similarity.html#pair-{k}">{k}</a></td><td>{escape(str(p["a"]))}</td>'
                       f'<td>{escape(str(p["b"]))}</td><td class=n>{float(p["overlap_a"]):.0%}</td>'
                       f'<td class=n>{float(p["overlap_b"]):.0%}</td><td class=n>{int(p["matched_tokens"])}</td></tr>'
                       for k, p in enumerate(pairs, 1))
        head = (f'<h2>Similarity</h2><p>{len(pairs)} pair{"s" * (len(pairs) != 1)} of {escape(str(data["assignment"]))} '
                f'submissions flagged by <code>dlgrade similarity</code> (threshold {float(data["threshold"]):.0%}): '
                f'<a href="similarity.html">similarity.html</a>, with the matching code side by side. '
                f'It never changes a score.</p>')
        table = ("<table><tr><th></th><th>a</th><th>b</th><th>a in b</th><th>b in a</th><th>matched</th></tr>"
                 f"{rows}</table>") if pairs else ""
        body = head + table
    except (OSError, ValueError, KeyError, TypeError):
        body = ""
    return f"{BEGIN}{body}{END}"


def update_summary(outdir):
    """Rewrite the Similarity section of OUTDIR/summary.html, if there is one (a page written
    before any similarity report gets the section before </body>)."""
    path = Path(outdir) / "summary.html"
    try:
        page = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return
    before, found, rest = page.partition(BEGIN)
    if found and END in rest:
        page = before + summary_section(outdir) + rest.partition(END)[2]
    else:
        before, found, after = page.rpartition("</body>")
        if not found:
            return
        page = before + summary_section(outdir) + "\n</body>" + after
    atomic.write(path, page.encode("utf-8"))
