"""Reporters: pure functions from `Report`s to text: the item table (with what trained models
achieved), JSON, the gradebook CSV, Gradescope's results.json; submission ids (`ids`) and the one
JSON encoder every writer uses (`dumps`)."""
import csv
import io
import unicodedata

from grader.results import NOT_GRADED, NOT_RUN, STATUSES, not_run
from grader.sandbox.wire import dumps, json_default  # noqa: F401  (the one JSON encoder: `report.dumps`)

HIDDEN_NOTE = "hidden item: details are shown to your instructor only"
SAMPLES = "; samples:"  # what follows it in a trained text model's message: text the model wrote
TRAINED_CHECKS = ("test accuracy", "held-out loss", "held-out reconstruction error")


def _fmt(x) -> str:
    return f"{x:g}"


def table(reports, *, details=True) -> str:
    """One submission: an item table, then what failed. Several: one line per submission."""
    if len(reports) == 1:
        return _one_table(reports[0], details)
    width = max(len(r.submission) for r in reports)
    lines = [f"{'submission':<{width}}  {'score':>13}  " + " ".join(f"{s:>13}" for s in STATUSES)]
    for r in reports:
        counts = [sum(i.status == s for i in r.items) for s in STATUSES]
        lines.append(f"{r.submission:<{width}}  {_fmt(r.score):>6} / {_fmt(r.max_score):<4}  "
                     + " ".join(f"{c:>13}" for c in counts) + (f"  ({r.error})" if r.error else ""))
    return "\n".join(lines)


def _one_table(report, details):
    width = max([len(i.id) for i in report.items] + [4])
    lines = [f"{report.assignment}: {report.submission}", ""]
    lines.append(f"{'item':<{width}}  {'score':>12}  status")
    for i in report.items:
        lines.append(f"{i.id:<{width}}  {_fmt(i.score):>5} / {_fmt(i.max_score):<4}  {i.status}")
    lines.append(f"{'total':<{width}}  {_fmt(report.score):>5} / {_fmt(report.max_score):<4}")
    models = trained_models(report)
    if models:
        lines += ["", "Trained models:", *(f"  {line}" for line in models)]
    if report.error:
        lines.append(f"error: {report.error}")
    failed = [i for i in report.items if (i.status not in ("passed", "not_attempted") or "~" in i.output)
              and i.output != NOT_GRADED]  # an ungradable submission says why once: its error
    if details and failed:
        lines += ["", "Details:"]
        for i in failed:
            lines.append(f"\n{i.id} ({i.status}, {_fmt(i.score)}/{_fmt(i.max_score)})")
            lines += ["  " + line for line in i.output.splitlines()]
    return "\n".join(lines)


def trained_models(report) -> list:
    """Lines for the items graded from trained weights: what the weights achieved (test accuracy,
    nats/char, reconstruction error, with the item's thresholds), each followed by the samples
    the model wrote, if any; an item whose weights could not be evaluated says why. A hidden
    item shows nothing once its details are redacted (`feedback.student_view`)."""
    lines = []
    for i in report.items:
        if not (i.trained or any(c.name in TRAINED_CHECKS for c in i.checks)) or i.output == NOT_GRADED:
            continue
        figure = next((c.message for c in i.checks if c.message and (c.credit is not None or c.name in TRAINED_CHECKS)),
                      "")
        if not figure and i.visibility == "hidden":
            continue
        figure = figure or (i.output.splitlines()[0] if i.output.strip() else i.status)
        result, _, samples = figure.partition(SAMPLES)
        lines.append(f"{i.id}: {result}")
        if samples.strip():
            first, *more = samples.splitlines()
            lines.append(f"  samples:{first}".rstrip())
            lines += [f"    {line.removeprefix('    ')}".rstrip() for line in more]
    return lines


FORMATS = ("table", "json", "csv", "gradescope")
GRADEBOOK = {"table": "grades.txt", "json": "grades.json", "csv": "grades.csv", "gradescope": "results.json"}


def render(reports, fmt: str, *, execution_time: float = 0.0) -> str:
    """The reports in one of `FORMATS` (gradescope: exactly one report, else ValueError)."""
    if fmt == "json":
        return to_json(reports)
    if fmt == "csv":
        return to_csv(reports)
    if fmt == "gradescope":
        if len(reports) != 1:
            raise ValueError("--format gradescope takes exactly one submission")
        return to_gradescope(reports[0], execution_time=execution_time)
    return table(reports)


def shown(text) -> str:
    """A name a submission chose, safe to print on a terminal: control characters (escape
    sequences that move the cursor or rewrite earlier lines) as Python escapes."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def to_json(reports) -> str:
    data = [r.to_dict() for r in reports]
    return dumps(data[0] if len(data) == 1 else data, indent=2)


def hidden_output(item) -> str:
    """A hidden item's output for the student: each check's name and verdict, never its message;
    a check not run because an earlier one failed says so, as for public items."""
    lines = [f"{c.name}: {NOT_RUN if not_run(c) else 'passed' if c.passed else 'failed'}" for c in item.checks]
    return "\n".join(lines) or item.status


GENERIC_NAMES = {"submission", "submissions"}  # what an LMS names every student's upload


def _stem(name: str) -> str:
    return name[:-4] if name.lower().endswith(".zip") else name


def _parts(path: str) -> list:
    return [p for p in path.replace("\\", "/").split("/") if p not in ("", ".", "..")]


# Names the class view and the CLI write in OUTDIR beside the submissions' folders; an id never
# takes one (compared case-insensitively, as on macOS and Windows), nor a name Windows reserves.
RESERVED = frozenset({"grades.csv", "grades.txt", "grades.json", "results.json", "summary.html", "figures",
                      "canvas.csv", "moodle.csv", "roster_check.csv", "moodle_worksheet.csv",
                      "similarity.csv", "similarity.json", "similarity.html", "shard.json",
                      "results", "feedback", "con", "prn", "aux", "nul",
                      *(f"{d}{k}" for d in ("com", "lpt") for k in range(1, 10))})
MAX_ID = 64  # characters


def safe_id(name: str) -> str:
    """`name` as a folder name: letters, digits, `-`, `_` and inner dots only, at most `MAX_ID`
    characters, never empty, `.`, `..` or hidden (`submission` when nothing is left)."""
    base = "".join(c if c.isalnum() or c in "-_." else "_" for c in unicodedata.normalize("NFC", name))
    return base[:MAX_ID].strip(".-") or "submission"


def _folded(sid: str) -> str:
    """What a case- and normalization-insensitive file system (macOS, Windows) sees of `sid`."""
    return unicodedata.normalize("NFKC", sid).casefold()


def ids(reports) -> list:
    """A file-name-safe id per report, unique in the list, from its submission's path: the file or
    folder name without `.zip` (`alice.zip` -> `alice`), or, where that name says nothing of the
    student (`submission.zip`) or repeats (`alice/mlp`, `bob/mlp`), the name of the folder above
    it, as an LMS exports them (`alice/submission.zip` -> `alice`); a name still taken, also when
    it differs only in case, or one the class view writes itself (`RESERVED`: `grades.csv.zip`)
    gets `-2`, `-3`, ... (`safe_id`: never `..`, a path or hidden)."""
    parts = [_parts(r.submission) for r in reports]
    stems = [_stem(p[-1]) if p else "submission" for p in parts]
    out, seen = [], set(RESERVED)
    for p, stem in zip(parts, stems):
        name = stem
        if (stem.lower() in GENERIC_NAMES or stems.count(stem) > 1) and len(p) >= 2:
            name = p[-2]
        base = safe_id(name)
        sid, k = base, 1
        while _folded(sid) in seen:
            k += 1
            sid = f"{base}-{k}"
        seen.add(_folded(sid))
        out.append(sid)
    return out


def _num(x) -> str:
    """A score as the gradebook writes it: up to 4 decimals, no trailing zeros (`2`, `37.5`)."""
    x = round(float(x), 4)
    return str(int(x)) if x.is_integer() else repr(x)


GRADEBOOK_COLUMNS = ("id", "submission", "status", "score", "max_score")


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet reads as a formula


def safe_cell(text: str) -> str:
    """A text cell of the gradebook: a value a submission chose (its file name) that a
    spreadsheet would run as a formula (`=HYPERLINK(...)`) is written with a leading quote."""
    text = str(text)
    return "'" + text if text.startswith(FORMULA_START) else text


def to_csv(reports, sids=None, people=None) -> str:
    """The gradebook, for `--format csv` and the class view's grades.csv alike: one row per
    submission with `GRADEBOOK_COLUMNS`, then one column per item. `status` is `graded`, or
    `not graded: <why>` for a submission that could not be graded, whose scores are empty, never 0.
    `sids` are the reports' ids (default: `ids(reports)`); `people`, a (student_id, name) per
    report (`roster.people`), adds those two columns first."""
    item_ids = next(([i.id for i in r.items] for r in reports if r.items), [])
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    first = ["student_id", "name"] if people is not None else []
    writer.writerow([*first, *GRADEBOOK_COLUMNS, *item_ids])
    for n, (sid, r) in enumerate(zip(sids or ids(reports), reports)):
        who = [safe_cell(x) for x in people[n]] if people is not None else []
        if r.error:
            writer.writerow([*who, safe_cell(sid), safe_cell(r.submission), safe_cell(f"not graded: {r.error}"), "",
                             _num(r.max_score), *[""] * len(item_ids)])
            continue
        scores = {i.id: _num(i.score) for i in r.items}
        writer.writerow([*who, safe_cell(sid), safe_cell(r.submission), "graded", _num(r.score), _num(r.max_score),
                         *(scores.get(k, "") for k in item_ids)])
    return buf.getvalue().rstrip("\n")


def to_gradescope(report, *, execution_time: float = 0.0) -> str:
    """Gradescope's results.json for one submission, with every field of its specification.

    Hidden items are `after_published` and their output lists only which checks passed, never
    inputs, expected values or messages. `execution_time` is the grading time in seconds."""
    tests = []
    for number, i in enumerate(report.items, 1):
        hidden = i.visibility == "hidden"
        output = i.output
        if hidden:
            output = hidden_output(i) + f"\n({HIDDEN_NOTE})"
        tests.append({"name": i.id, "number": str(number), "score": i.score, "max_score": i.max_score,
                      "status": "passed" if i.status == "passed" else "failed",
                      "output": output, "output_format": "text",
                      "tags": [i.visibility, i.status, i.id.rsplit(".", 1)[0]],
                      "visibility": "after_published" if hidden else "visible"})
    hidden = [i for i in report.items if i.visibility == "hidden"]
    lines = [f"{report.assignment}: {_fmt(report.score)} / {_fmt(report.max_score)} points",
             f"public items: {_fmt(sum(i.score for i in report.items if i not in hidden))} / "
             f"{_fmt(sum(i.max_score for i in report.items if i not in hidden))}"]
    if hidden:
        lines.append(f"{len(hidden)} hidden items ({_fmt(sum(i.max_score for i in hidden))} points) are shown "
                     f"once your instructor publishes the grades")
    if report.error:
        lines.append(f"error: {report.error}")
    out = {"score": report.score, "execution_time": round(float(execution_time), 1), "output": "\n".join(lines),
           "output_format": "text", "test_output_format": "text", "test_name_format": "text",
           "visibility": "visible", "stdout_visibility": "hidden", "tests": tests}
    return dumps(out, indent=2)
