"""Per-submission feedback: the report as a student may see it, as text and as a chart of every item."""
import dataclasses
import json
import os
from pathlib import Path

from grader.results import not_run
from grader.items.checks import GATED_MESSAGE
from grader.reports.figures import plain, pyplot
from grader.reports.report import RESERVED, ids, safe_id, table, to_gradescope

COLOURS = {"passed": "#2e7d32", "partial": "#f9a825", "failed": "#c62828", "error": "#6a1b9a",
           "timeout": "#1565c0", "not_attempted": "#9e9e9e"}


def student_view(report):
    """The report as a student may see it: hidden items show which checks passed, nothing more
    (their checks keep names and verdicts, without messages or hints)."""
    tests = {t["name"]: t["output"] for t in json.loads(to_gradescope(report))["tests"]}
    for item in report.items:
        item.output = tests[item.id]
        if item.visibility == "hidden":
            item.checks = [dataclasses.replace(c, message=GATED_MESSAGE if not_run(c) else "", figures=(),
                                               hints=())
                           for c in item.checks]
    return report


def feedback_text(report) -> str:
    """feedback.txt: the item table with the trained models' results and samples, then the
    details (hidden items redacted)."""
    return table([student_view(report)]) + "\n"


def plot_scores(report, path):
    """A row per item, zeros included: the earned fraction in the status colour over a pale band of
    the same colour, the status and points written at the right, hidden items hatched and marked."""
    with pyplot() as plt:  # the submission's name in the title is shown as written, never as mathtext
        fig, ax = plt.subplots(figsize=(9, 0.24 * len(report.items) + 1.6))
        try:
            _plot_scores(fig, ax, report, path)
        finally:
            plt.close(fig)


def _plot_scores(fig, ax, report, path):
    from matplotlib.patches import Patch
    items = report.items
    n = len(items)
    y = list(range(n))[::-1]
    for row, i in zip(y, items):
        colour = COLOURS[i.status]
        hidden = i.visibility == "hidden"
        frac = i.score / i.max_score if i.max_score else 0.0
        ax.barh(row, 1.0, color=colour, alpha=0.18, height=0.8, linewidth=0, hatch="///" if hidden else None)
        ax.barh(row, frac, color=colour, height=0.8, hatch="///" if hidden else None,
                edgecolor="white" if hidden else colour, linewidth=0)
        ax.text(1.01, row, f"{round(i.score, 2):g}/{i.max_score:g}  {i.status.replace('_', ' ')}",
                va="center", fontsize=7, color=colour)
    ax.set_yticks(y, [f"{i.id}{'  [hidden]' if i.visibility == 'hidden' else ''}" for i in items], fontsize=7)
    for label, i in zip(ax.get_yticklabels(), items):
        if i.visibility == "hidden":
            label.set_fontstyle("italic")
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.6, n - 0.4)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0], ["0", "25%", "50%", "75%", "100%"], fontsize=7)
    ax.set_xlabel("fraction of the item's points earned", fontsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_title(f"{report.assignment}: {plain(Path(report.submission).name)}: "
                 f"{round(report.score, 2):g} / {report.max_score:g}", pad=24, fontsize=10)
    present = sorted({i.status for i in items}, key=list(COLOURS).index)
    handles = [Patch(color=COLOURS[s], label=s.replace("_", " ")) for s in present]
    if any(i.visibility == "hidden" for i in items):
        handles.append(Patch(facecolor="#777777", hatch="///", edgecolor="white", label="hidden item"))
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(handles), fontsize=7,
              frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def draw_scores(report, folder) -> str:
    """`folder/scores.png` (`plot_scores` of the student's view), written atomically; "" when drawn,
    else why not: a chart that fails to draw costs that submission its chart, nothing more."""
    import copy
    tmp = Path(folder) / ".scores.tmp.png"
    try:
        plot_scores(student_view(copy.deepcopy(report)), tmp)
        os.replace(tmp, Path(folder) / "scores.png")
        return ""
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        return f"scores.png could not be drawn ({type(exc).__name__})"


def folder_for(root, sid) -> Path:
    """`root/sid`, created, for one submission's files: `sid` must be one plain name (`report.ids`:
    never `..`, a path, hidden or a name the class view writes itself); an existing link there is
    removed, never written through, and the folder must resolve directly inside `root`."""
    root = Path(root)
    if sid != safe_id(sid) or sid.casefold() in RESERVED:
        raise ValueError(f"{sid!r} is not a submission id")
    out = root / sid
    if out.is_symlink():
        out.unlink()
    out.mkdir(parents=True, exist_ok=True)
    if Path(os.path.realpath(out)).parent != Path(os.path.realpath(root)):
        raise ValueError(f"{out} is not inside {root}")
    return out


def write(reports, folder):
    """For each report: `<folder>/<id>/feedback.txt` and `scores.png`, ids as the class view's (`report.ids`)."""
    folder = Path(folder)
    written = []
    for sid, report in zip(ids(reports), reports):
        out = folder_for(folder, sid)
        note = draw_scores(report, out)
        tmp = out / ".feedback.txt.tmp"  # atomic: a temporary file, then a rename over the old one
        tmp.write_text(feedback_text(report) + (f"\n{note}\n" if note else ""))
        os.replace(tmp, out / "feedback.txt")
        written.append(out)
    return written
