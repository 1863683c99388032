"""Reporters: pure functions from `Report`s to text (table, JSON, CSV, Gradescope results.json)."""
import csv
import io
import json

from .api import STATUSES

HIDDEN_NOTE = "hidden item: details are shown to your instructor only"


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
    if report.error:
        lines.append(f"error: {report.error}")
    failed = [i for i in report.items if i.status not in ("passed", "not_attempted") or "~" in i.output]
    if details and failed:
        lines += ["", "Details:"]
        for i in failed:
            lines.append(f"\n{i.id} ({i.status}, {_fmt(i.score)}/{_fmt(i.max_score)})")
            lines += ["  " + line for line in i.output.splitlines()]
    return "\n".join(lines)


def to_json(reports) -> str:
    data = [r.to_dict() for r in reports]
    return json.dumps(data[0] if len(data) == 1 else data, indent=2)


def to_csv(reports) -> str:
    """A gradebook: one row per submission, total then one column per item, and a status: a
    submission that could not be graded says `not graded: <why>` and has no scores, never 0."""
    ids = [i.id for i in reports[0].items] if reports else []
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["submission", "score", "max_score", *ids, "status"])
    for r in reports:
        if r.error:
            writer.writerow([r.submission, "", _fmt(r.max_score), *[""] * len(ids), f"not graded: {r.error}"])
            continue
        scores = {i.id: i.score for i in r.items}
        writer.writerow([r.submission, _fmt(r.score), _fmt(r.max_score), *(_fmt(scores.get(k, 0)) for k in ids),
                         "graded"])
    return buf.getvalue()


def to_gradescope(report, *, execution_time: float = 0.0) -> str:
    """Gradescope's results.json for one submission, with every field of its specification.

    Hidden items are `after_published` and their output lists only which checks passed, never
    inputs, expected values or messages. `execution_time` is the grading time in seconds."""
    tests = []
    for number, i in enumerate(report.items, 1):
        hidden = i.visibility == "hidden"
        output = i.output
        if hidden:
            output = "\n".join(c.name + (": passed" if c.passed else ": failed") for c in i.checks) or i.status
            output += f"\n({HIDDEN_NOTE})"
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
    return json.dumps(out, indent=2)
