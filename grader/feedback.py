"""Per-submission feedback files: the report as text and a chart of the score of every item."""
from pathlib import Path

from .report import table, to_gradescope

COLOURS = {"passed": "#2e7d32", "partial": "#f9a825", "failed": "#c62828", "error": "#6a1b9a",
           "timeout": "#6a1b9a", "not_attempted": "#9e9e9e"}


def student_view(report):
    """The report as a student may see it: hidden items show which checks passed, nothing more."""
    import json
    tests = {t["name"]: t["output"] for t in json.loads(to_gradescope(report))["tests"]}
    for item in report.items:
        item.output = tests[item.id]
    return report


def plot_scores(report, path):
    """A horizontal bar per item: the fraction of its points earned, coloured by status."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    items = report.items
    fig, ax = plt.subplots(figsize=(8, 0.22 * len(items) + 1.4))
    y = range(len(items))[::-1]
    ax.barh(list(y), [1.0] * len(items), color="#eeeeee")
    ax.barh(list(y), [i.score / i.max_score if i.max_score else 0 for i in items],
            color=[COLOURS[i.status] for i in items])
    ax.set_yticks(list(y), [f"{i.id}  ({i.score:g}/{i.max_score:g})" for i in items], fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_xlabel("fraction of the item's points")
    ax.set_title(f"{report.assignment}: {Path(report.submission).name}: {report.score:g} / {report.max_score:g}",
                 pad=22)
    present = sorted({i.status for i in items}, key=list(COLOURS).index)
    ax.legend(handles=[Patch(color=COLOURS[s], label=s) for s in present], loc="lower center",
              bbox_to_anchor=(0.5, 1.0), ncol=len(present), fontsize=7, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(reports, folder):
    """For each report: `<folder>/<submission name>/feedback.txt` and `scores.png`."""
    folder = Path(folder)
    written = []
    for report in reports:
        name = Path(report.submission).stem or "submission"
        out, k = folder / name, 1
        while out in written:
            k += 1
            out = folder / f"{name}-{k}"
        out.mkdir(parents=True, exist_ok=True)
        report = student_view(report)
        (out / "feedback.txt").write_text(table([report]) + "\n")
        plot_scores(report, out / "scores.png")
        written.append(out)
    return written
