"""Per-submission feedback: the report as a student may see it, as text and as a chart of every item."""
import dataclasses
import json
import os
from pathlib import Path

from .api import not_run
from .checks import GATED_MESSAGE
from .report import ids, table, to_gradescope

COLOURS = {"passed": "#2e7d32", "partial": "#f9a825", "failed": "#c62828", "error": "#6a1b9a",
           "timeout": "#1565c0", "not_attempted": "#9e9e9e"}


def student_view(report):
    """The report as a student may see it: hidden items show which checks passed, nothing more
    (their checks keep names and verdicts, without messages)."""
    tests = {t["name"]: t["output"] for t in json.loads(to_gradescope(report))["tests"]}
    for item in report.items:
        item.output = tests[item.id]
        if item.visibility == "hidden":
            item.checks = [dataclasses.replace(c, message=GATED_MESSAGE if not_run(c) else "", figures=())
                           for c in item.checks]
    return report


def feedback_text(report) -> str:
    """feedback.txt: the item table with the trained models' results and samples, then the
    details (hidden items redacted)."""
    return table([student_view(report)]) + "\n"


def plot_scores(report, path):
    """A row per item, zeros included: the earned fraction in the status colour over a pale band of
    the same colour, the status and points written at the right, hidden items hatched and marked."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    items = report.items
    n = len(items)
    fig, ax = plt.subplots(figsize=(9, 0.24 * n + 1.6))
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
    ax.set_title(f"{report.assignment}: {Path(report.submission).name}: {round(report.score, 2):g} / {report.max_score:g}",
                 pad=24, fontsize=10)
    present = sorted({i.status for i in items}, key=list(COLOURS).index)
    handles = [Patch(color=COLOURS[s], label=s.replace("_", " ")) for s in present]
    if any(i.visibility == "hidden" for i in items):
        handles.append(Patch(facecolor="#777777", hatch="///", edgecolor="white", label="hidden item"))
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(handles), fontsize=7,
              frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(reports, folder):
    """For each report: `<folder>/<id>/feedback.txt` and `scores.png`, ids as the class view's (`report.ids`)."""
    folder = Path(folder)
    written = []
    for sid, report in zip(ids(reports), reports):
        out = folder / sid
        if out.is_symlink():  # never write through a link
            out.unlink()
        out.mkdir(parents=True, exist_ok=True)
        tmp = out / ".feedback.txt.tmp"  # atomic: a temporary file, then a rename over the old one
        tmp.write_text(feedback_text(report))
        os.replace(tmp, out / "feedback.txt")
        plot_scores(student_view(report), out / ".scores.tmp.png")
        os.replace(out / ".scores.tmp.png", out / "scores.png")
        written.append(out)
    return written
