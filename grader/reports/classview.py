"""The class view of a grading run: what `dlgrade grade ... -o OUTDIR` writes.

    OUTDIR/grades.csv                  the gradebook (`report.to_csv`, as `--format csv` writes it)
    OUTDIR/<id>/report.json            the full report (instructor)
    OUTDIR/<id>/feedback.txt           for the student: hidden items show only which checks passed
    OUTDIR/<id>/scores.png             for the student: every item's points, by status
    OUTDIR/<id>/<figure>.png           for the student: the items' figures (`grader.reports.figures`)
    OUTDIR/<id>/answers.md             the student's answers to the lesson's inline questions, to grade by hand
    OUTDIR/summary.html                score distribution, pass rate per item, learning curves, and
                                       the flagged pairs of OUTDIR/similarity.json (`dlgrade similarity`)
    OUTDIR/figures/*.png               the figures of summary.html
    OUTDIR/canvas.csv, moodle.csv      with a roster (`grader.reports.roster`): the LMS gradebook imports,
    OUTDIR/roster_check.csv            and the students with no submission, submissions with no student

Everything here is a pure function of reports (and of the learning curves read from the
submissions); `write_submission` can run as each submission finishes, `write_summary` after
any number of them. Files are written atomically (a temporary file, then a rename). A submission
that could not be graded is marked so in grades.csv (status `not graded`, empty scores), never
a silent 0.
"""
import contextlib
import html
import os
import stat
import zipfile
from pathlib import Path

from grader import atomic
from grader.engine.intake import MAX_DEPTH, MAX_ZIP_MEMBERS  # the limits intake reads a submission within
from grader.student import curves
from grader.reports import figures, roster as rosters
from grader.reports.feedback import COLOURS, draw_scores, feedback_text, folder_for
from grader.reports.figures import plain, pyplot
from grader.reports.report import dumps, ids, to_csv
from grader.reports.similarity import summary_section


def submission_id(report) -> str:
    """A file-name-safe id from the submission's path (`report.ids`): `alice.zip` -> `alice`."""
    return ids([report])[0]


def grades_csv(reports, sids=None, roster=None) -> str:
    """grades.csv: the gradebook of `--format csv` (`report.to_csv`), the same columns and rows;
    with a `roster`, `student_id` and `name` first."""
    return to_csv(reports, sids, people=rosters.people(reports, roster) if roster else None) + "\n"


MAX_FOLDERS = 2000  # folders of a submission looked through for its learning curves


def _find(folder: Path, name: str):
    """The shallowest regular file `name` in `folder` or the folders below it, at most
    `MAX_DEPTH` deep and `MAX_FOLDERS` visited, breadth first and without recursion, never
    through a link, nor into dot-folders, `__MACOSX` or `__pycache__`; None if there is none."""
    level, seen = [folder], 0
    for _ in range(MAX_DEPTH + 1):
        for d in level:
            with contextlib.suppress(OSError):
                if stat.S_ISREG(os.lstat(d / name).st_mode):
                    return d / name
        below = []
        for d in level:
            try:
                with os.scandir(d) as entries:
                    subs = sorted(e.name for e in entries if e.is_dir(follow_symlinks=False))
            except OSError:
                continue
            for sub in subs:
                if not sub.startswith((".", "__MACOSX")) and sub != "__pycache__":
                    below.append(d / sub)
            seen += len(subs)
            if seen > MAX_FOLDERS:
                return None
        level = below
    return None


def _zip_member(path: Path, name: str) -> bytes:
    """The bytes of the shallowest member `name` of the zip `path` (at most `curves.MAX_BYTES`)."""
    with zipfile.ZipFile(path) as zf:
        members = zf.infolist()
        if len(members) > MAX_ZIP_MEMBERS:
            raise curves.CurveError("too many files in the zip")
        found = sorted((m for m in members if not m.is_dir() and Path(m.filename).name == Path(name).name),
                       key=lambda m: (m.filename.count("/"), m.filename))
        if not found or found[0].file_size > curves.MAX_BYTES:
            return None
        with zf.open(found[0]) as f:
            return f.read(curves.MAX_BYTES + 1)


def read_curves(path, weights) -> dict:
    """{weights file: rows} for the learning curves of the `weights` files (`engine.weights_files`)
    in a submission (a folder or a .zip), read
    as data (`curves.load`: a regular file, bounded in size, depth and values); a missing or bad
    curve is skipped. The submission itself must be a folder or a regular file, not a link."""
    names = [curves.path_for(w) for w in weights]
    path, out = Path(path), {}
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return out
    for name in names:
        try:
            if stat.S_ISDIR(mode):
                found = _find(path, name)
                if found is not None:
                    out[name] = curves.load(found)
            elif stat.S_ISREG(mode) and zipfile.is_zipfile(path):
                data = _zip_member(path, name)
                if data is not None:
                    out[name] = curves.parse(data)
        except Exception:  # noqa: BLE001  a curve that cannot be read is left out, whatever went wrong
            continue
    return out


ANSWERS = "answers.md"


def _is_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def read_answers(path):
    """The text of the student's answers.md in a submission (a folder or a .zip), read as data
    like a learning curve (a regular file, bounded in size, never through a link); None when
    there is none or it cannot be read."""
    path = Path(path)
    try:
        mode = os.lstat(path).st_mode
        if stat.S_ISDIR(mode):
            found = _find(path, ANSWERS)
            if found is None or os.lstat(found).st_size > curves.MAX_BYTES:
                return None
            data = found.read_bytes()[:curves.MAX_BYTES]
        elif stat.S_ISREG(mode) and zipfile.is_zipfile(path):
            data = _zip_member(path, ANSWERS)
        else:
            return None
    except Exception:  # noqa: BLE001  answers that cannot be read are left out, whatever went wrong
        return None
    return None if data is None else data.decode("utf-8", "replace")


FIGURES = "\nFigures (beside this file):\n"


def _figures_listed(folder):
    """The figure lines of an earlier feedback.txt whose files are still there: a report
    restored by `--resume` carries no figures to draw, and its feedback keeps the list."""
    try:
        text = (folder / "feedback.txt").read_text()
    except OSError:
        return []
    lines = text.partition(FIGURES)[2].splitlines()
    return [line.strip() for line in lines if line.startswith("  ") and (folder / line.strip().split(":")[0]).is_file()]


def write_submission(report, outdir, sid=None, problems=None):
    """OUTDIR/<id>/report.json, feedback.txt, scores.png and the items' figures for one submission.
    A figure that cannot be drawn is that submission's problem: its feedback says so and, when
    `problems` (a dict) is given, `problems[sid]` says why."""
    import copy
    sid = sid or submission_id(report)
    folder = folder_for(outdir, sid)
    atomic.write(folder / "report.json", dumps(report.to_dict(), indent=1) + "\n", make_parents=True)
    drawn = figures.save_all(report.items, folder) if figures.of(report.items) else _figures_listed(folder)
    note = draw_scores(report, folder) if report.items else ""
    listing = "".join(f"  {line}\n" for line in drawn)
    text = feedback_text(copy.deepcopy(report)) + (f"{FIGURES}{listing}" if drawn else "")
    atomic.write(folder / "feedback.txt", text + (f"\n{note}\n" if note else ""), make_parents=True)
    answers = read_answers(report.submission) if report.submission else None
    if answers is not None:
        atomic.write(folder / ANSWERS, answers, make_parents=True)
    if note and problems is not None:
        problems[sid] = note
    return folder


# --------------------------------------------------------------------------- figures
def plot_distribution(reports, path):
    """Histogram of the totals of the graded submissions (ungraded ones counted in the title)."""
    graded = [r for r in reports if not r.error]
    top = max([r.max_score for r in reports] + [1])
    with pyplot() as plt:  # text is shown as written, never as mathtext
        fig, ax = plt.subplots(figsize=(7, 3.2))
        try:
            bins = [top * k / 20 for k in range(21)]
            ax.hist([r.score for r in graded], bins=bins, color="#1565c0", edgecolor="white")
            ax.set_xlim(0, top)
            ax.set_xlabel("total score")
            ax.set_ylabel("submissions")
            ax.yaxis.get_major_locator().set_params(integer=True)
            ungraded = len(reports) - len(graded)
            mean = sum(r.score for r in graded) / len(graded) if graded else 0
            ax.set_title(f"{reports[0].assignment}: {len(graded)} graded, mean {mean:.1f} / {top:g}"
                         + (f"; {ungraded} could not be graded" if ungraded else ""), fontsize=10)
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
            fig.tight_layout()
            fig.savefig(path, dpi=110)
        finally:
            plt.close(fig)


def plot_pass_rates(reports, path):
    """Per item, the share of graded submissions in each status, stacked to 100 %."""
    from matplotlib.patches import Patch
    graded = [r for r in reports if not r.error and r.items]
    items = graded[0].items if graded else []
    n = len(items)
    with pyplot() as plt:  # text is shown as written, never as mathtext
        fig, ax = plt.subplots(figsize=(9, 0.24 * n + 1.6))
        try:
            y = list(range(n))[::-1]
            for row, item in zip(y, items):
                left = 0.0
                statuses = [next(i.status for i in r.items if i.id == item.id) for r in graded]
                for s in COLOURS:
                    share = statuses.count(s) / len(statuses)
                    if share:
                        ax.barh(row, share, left=left, color=COLOURS[s], height=0.8, linewidth=0)
                        left += share
                passed = statuses.count("passed") / len(statuses)
                ax.text(1.01, row, f"{passed:.0%} passed", va="center", fontsize=7)
            ax.set_yticks(y, [f"{i.id}{'  [hidden]' if i.visibility == 'hidden' else ''}" for i in items], fontsize=7)
            ax.set_xlim(0, 1)
            ax.set_ylim(-0.6, n - 0.4)
            ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0], ["0", "25%", "50%", "75%", "100%"], fontsize=7)
            ax.set_xlabel(f"share of the {len(graded)} graded submissions", fontsize=8)
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
            ax.set_title(f"{graded[0].assignment if graded else ''}: status of each item", pad=24, fontsize=10)
            present = [s for s in COLOURS if any(i.status == s for r in graded for i in r.items)]
            ax.legend(handles=[Patch(color=COLOURS[s], label=s.replace("_", " ")) for s in present], loc="lower center",
                      bbox_to_anchor=(0.5, 1.0), ncol=max(1, len(present)), fontsize=7, frameon=False)
            fig.tight_layout()
            fig.savefig(path, dpi=110)
        finally:
            plt.close(fig)


METRICS = {"loss": "training loss", "val_acc": "validation accuracy", "val_nats": "validation nats/char",
           "train_acc": "training accuracy"}


def plot_curves(name, by_submission, path):
    """One panel per logged metric (loss, then validation accuracy or nats/char), a line per submission."""
    metrics = [m for m in ("loss", "val_acc", "val_nats") if any(m in row for rows in by_submission.values() for row in rows)]
    if not metrics:
        raise ValueError("no loss, val_acc or val_nats logged")
    with pyplot() as plt:  # text is shown as written, never as mathtext
        fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.2), squeeze=False)
        try:
            for ax, metric in zip(axes[0], metrics):
                for sid, rows in sorted(by_submission.items()):
                    pts = [(r["epoch"], r[metric]) for r in rows if metric in r]
                    if pts:
                        ax.plot(*zip(*pts), marker="o", markersize=3, linewidth=1.2, label=plain(sid, 40))
                ax.set_xlabel("epoch")
                ax.set_title(METRICS[metric], fontsize=9)
                if metric == "val_acc":
                    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
                ax.grid(alpha=0.3)
                for side in ("top", "right"):
                    ax.spines[side].set_visible(False)
            if len(by_submission) <= 12:
                axes[0][-1].legend(fontsize=7, frameon=False)
            fig.suptitle(f"learning curves ({name}, {len(by_submission)} submissions)", fontsize=10)
            fig.tight_layout()
            fig.savefig(path, dpi=110)
        finally:
            plt.close(fig)


def summary_html(reports, figures, sids, problems=None, outdir=None, roster=None) -> str:
    """A self-contained page (figures next to it) with a row per submission; a graded submission
    whose files could not all be written says why (`problems`: {id: why})."""
    rows, problems = [], problems or {}
    for sid, r in zip(sids, reports):
        state = f"not graded: {html.escape(r.error)}" if r.error else "graded"
        if sid in problems:
            state += f"; {html.escape(problems[sid])}"
        score = "" if r.error else f"{r.score:g}"
        link = f'<a href="{html.escape(sid)}/feedback.txt">feedback</a>'
        if outdir is not None and _is_file(Path(outdir) / sid / ANSWERS):
            link += f' <a href="{html.escape(sid)}/{ANSWERS}">answers (grade by hand)</a>'
        rows.append(f"<tr><td>{html.escape(sid)}</td><td>{html.escape(r.submission)}</td><td>{state}</td>"
                    f"<td class=n>{score}</td><td class=n>{r.max_score:g}</td><td>{link}</td></tr>")
    imgs = "\n".join(f'<figure><img src="{html.escape(f)}" alt="{html.escape(f)}"></figure>' for f in figures)
    title = html.escape(f"{reports[0].assignment}: {len(reports)} submissions") if reports else "no submissions"
    # `dlgrade similarity -o` into the same folder, before or after: its section (similarity.update_summary)
    similarity_section = summary_section(outdir) if outdir is not None else ""
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:70em;margin:2em auto}} td,th{{padding:2px 8px}}
td.n{{text-align:right}} tr:nth-child(even){{background:#f4f4f4}} img{{max-width:100%}}</style></head>
<body><h1>{title}</h1>
<p>Grades: <a href="grades.csv">grades.csv</a>. Each submission's folder holds report.json (instructor),
feedback.txt and scores.png (for the student).</p>
{rosters.summary_section(reports, roster) if roster else ""}{imgs}
<table><tr><th>id</th><th>submission</th><th>status</th><th>score</th><th>max</th><th></th></tr>
{chr(10).join(rows)}
</table>
{similarity_section}
</body></html>
"""


def _draw_curves(name, by_sub, path, problems):
    """The learning-curve figure of `name`; a submission whose curve makes it fail is drawn
    alone to find it, then left out, with why in `problems`. Whether the figure was written."""
    try:
        plot_curves(name, by_sub, path)
        return True
    except Exception:  # noqa: BLE001  find the submissions whose curve cannot be drawn
        pass
    kept = {}
    for sid, rows in by_sub.items():
        try:
            plot_curves(name, {sid: rows}, path.with_name(f".{path.stem}.probe.png"))
            kept[sid] = rows
        except Exception as exc:  # noqa: BLE001
            problems[sid] = f"its {Path(name).name} could not be drawn ({type(exc).__name__})"
    path.with_name(f".{path.stem}.probe.png").unlink(missing_ok=True)
    try:
        if kept:
            plot_curves(name, kept, path)
            return True
    except Exception:  # noqa: BLE001  curves that draw alone but not together: none are shown
        for sid in kept:
            problems.setdefault(sid, f"the {Path(name).name} figure could not be drawn")
    return False


def write_summary(reports, outdir, curves_by_submission=None, problems=None, roster=None):
    """OUTDIR/grades.csv, OUTDIR/summary.html and its figures, for all `reports` so far.
    `problems` ({id: why}, filled in here too) are shown in the submissions' rows. With a
    `roster` (`grader.reports.roster`), also its LMS exports and check."""
    outdir = Path(outdir)
    problems = {} if problems is None else problems
    sids = ids(reports)
    atomic.write(outdir / "grades.csv", grades_csv(reports, sids, roster), make_parents=True)
    if roster:
        rosters.write_exports(reports, roster, outdir)
    figures = []
    fig_dir = outdir / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    if any(not r.error for r in reports):
        plot_distribution(reports, fig_dir / "distribution.png")
        plot_pass_rates(reports, fig_dir / "pass_rates.png")
        figures += ["figures/distribution.png", "figures/pass_rates.png"]
    by_file = {}
    for sid, found in zip(sids, curves_by_submission or [{}] * len(reports)):
        for name, rows in (found or {}).items():
            if rows:
                by_file.setdefault(name, {})[sid] = rows
    for name, by_sub in sorted(by_file.items()):
        png = f"figures/{Path(name).stem}.png"
        if _draw_curves(name, by_sub, outdir / png, problems):
            figures.append(png)
    atomic.write(outdir / "summary.html", summary_html(reports, figures, sids, problems, outdir, roster),
                 make_parents=True)
    return outdir / "summary.html"


def write(reports, outdir, curves_by_submission=None, problems=None, roster=None):
    """Everything: per-submission files, then grades.csv and summary.html. A submission whose
    files cannot be written is that submission's problem (`problems[id]`, shown in its row of
    summary.html), never the others'; pass a dict as `problems` to get them."""
    problems = {} if problems is None else problems
    for sid, r in zip(ids(reports), reports):
        try:
            write_submission(r, outdir, sid, problems)
        except Exception as exc:  # noqa: BLE001  one submission's files, never the batch
            problems[sid] = f"its files could not be written ({type(exc).__name__}: {plain(exc, 200)})"
    return write_summary(reports, outdir, curves_by_submission, problems, roster)
