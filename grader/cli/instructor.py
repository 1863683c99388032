"""The instructor's commands: `grade`, `release` and `nbgrader autograde` (never in a kit's tool:
its wheel does not hold this module)."""
import copy
import sys
from pathlib import Path

import click

from grader import course
from grader import engine
from grader import secret
from grader.engine import shards
from grader.cli.base import (ASSIGNMENT, BadUsage, Failure, assignment_arg, check_device, check_items, grade_paths,
                             main, render, write_atomic)
from grader.reports import destinations, report, roster as rosters
from grader.reports.report import shown
from grader.sandbox import runner
from grader.student import data


@main.command()
@assignment_arg
@click.argument("submissions", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", type=click.Path(),
              help="A file for the result; or a folder (one that exists, a path ending in / or without a "
                   "suffix): each submission's result written as it finishes, then the class view: grades.csv, "
                   "per-submission report.json, feedback.txt, scores.png, and summary.html.")
@click.option("--resume", is_flag=True, help="With -o OUTDIR: skip submissions whose result there matches their content.")
@click.option("-j", "--jobs", default=2, show_default=True, type=click.IntRange(min=1), help="Worker processes in parallel.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "gradescope"]), default="table",
              show_default=True, help="table: items and failure details; json: one object per submission; csv: "
                                      "the gradebook (one row per submission, one column per item); gradescope: "
                                      "Gradescope's results.json (one submission).")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True,
              help="cuda: the student's functions get CuPy arrays (needs CuPy and a GPU).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds per item (overrides the defaults).")
@click.option("--seed", default="grade", show_default=True,
              help="Mixed with the course secret into the salt of the randomized cases.")
@click.option("--item", "only", multiple=True, help="Only these items (an id or a prefix).")
@click.option("--feedback", type=click.Path(file_okay=False), help="Also write per-submission feedback.txt and scores.png here.")
@click.option("--no-sandbox", is_flag=True, help="Run workers as plain processes, without bubblewrap (trusted code only).")
@click.option("--shard", help="K/N: grade only every N-th submission of the sorted paths, from the K-th (K from 0 "
                              "to N-1; needs -o OUTDIR); join the shards' folders with `dlgrade merge`.")
@click.option("--cluster", metavar="ADDRESS", help="Grade on the Dask cluster whose scheduler is at ADDRESS "
              "(tcp://host:8786; needs `pip install 'dlgrade[cluster]'`; docs/cluster.md). -j is then the cluster's.")
@click.option("--roster", "roster_file", type=click.Path(dir_okay=False),
              help="A CSV mapping submissions to students (dlgrade's, or Canvas's gradebook or Moodle's grading "
                   "worksheet as exported): student_id and name in grades.csv; with -o OUTDIR, canvas.csv, "
                   "moodle.csv and roster_check.csv (with --shard: from `dlgrade merge --roster`).")
def grade(assignment, submissions, output, resume, jobs, fmt, device, timeout, seed, only, feedback, no_sandbox, shard,
          cluster, roster_file=None):
    """Grade SUBMISSIONS (folders or .zip files) against the reference.

    \b
    Examples:
      dlgrade grade mlp alice.zip                    one submission: items and details
      dlgrade grade mlp subs/*.zip -j 2 -o results   the class view: grades.csv, feedback, summary.html
      dlgrade grade mlp subs/*.zip -o results --resume   continue an interrupted run
      dlgrade grade mlp subs/*.zip --format csv -o grades.csv   only the gradebook
      dlgrade grade mlp subs/*.zip --shard 3/8 -o out-3   one job of an array (then: dlgrade merge)
      dlgrade grade mlp subs/*.zip --cluster tcp://10.0.0.5:8786 -o results   on a Dask cluster

    \b
    Exit status: 0 every submission graded; 1 a submission could not be graded at all
    (its row says why; the others are graded) or a write failed; 2 a usage error, before
    any grading; 130 interrupted (Ctrl-C; -o OUTDIR keeps what finished: --resume).
    """
    if fmt == "gradescope" and len(submissions) != 1 and not destinations.outdir_mode(output, resume):
        raise BadUsage("--format gradescope takes exactly one submission")
    _usable(destinations.check_output, output, resume)
    if shard is not None:
        shard = _usable(shards.parse, shard)
        if not destinations.outdir_mode(output, resume):
            raise BadUsage("--shard needs -o OUTDIR (a folder per shard, joined by `dlgrade merge`)")
    if feedback:
        _usable(destinations.check_out_folder, "--feedback", feedback)
    if cluster and no_sandbox:
        raise BadUsage("--cluster always sandboxes student code: --no-sandbox is for trusted code on this machine")
    if not cluster:
        check_device(device)
    salt, salt_id = _sandbox_and_salt(seed, no_sandbox or bool(cluster), " (--no-sandbox to do it anyway)")
    opts = engine.Options(cases=engine.Oracle(), salt=salt, timeout=timeout, device=device, sandbox=not no_sandbox)
    check_items(assignment, opts, only)
    roster = _roster(roster_file, list(submissions))  # checked against the whole class, in every shard alike
    grader = _cluster(cluster, seed, device) if cluster else None
    paths = shard.pick(submissions) if shard else list(submissions)
    outdir = Path(output) if destinations.outdir_mode(output, resume) else None
    sids = _class_ids(assignment, paths)
    if shard:
        _write(shards.describe, outdir, shard, assignment, submissions, salt_id, dict(zip(paths, sids)))
        roster = None  # a shard's class view is part of the class: `dlgrade merge --roster` writes the exports

    def progress(k, r, so_far):  # the class view grows as submissions finish: their files, and grades.csv so far
        if outdir:
            _class_progress(copy.deepcopy(r), sids[k], so_far, outdir, roster)

    try:
        reports, skipped = grade_paths(assignment, paths, opts, jobs, list(only), salt_id=salt_id, outdir=outdir,
                                       resume=resume, on_report=progress, grader=grader)
    finally:
        if grader is not None:
            grader.close()
    if outdir:  # the class view (grades.csv with a status column, per-submission files, summary.html)
        _class_view(assignment, copy.deepcopy(reports), paths, outdir, roster)
        name = report.GRADEBOOK[fmt] if fmt != "gradescope" or len(reports) == 1 else report.GRADEBOOK["json"]
        if fmt != "csv":  # and the chosen format beside it
            write_atomic(outdir / name, render(reports, "json" if name == report.GRADEBOOK["json"] else fmt) + "\n")
        click.echo(f"{len(reports) - skipped} graded, {skipped} already done (--resume): {outdir / name}", err=True)
    else:
        text = render(reports, fmt) if not (roster and fmt == "csv") else rosters.gradebook(reports, roster)
        if output:
            write_atomic(Path(output), text + "\n")
        else:
            click.echo(text)
    if feedback:
        from grader.reports.feedback import write
        written = write(copy.deepcopy(reports), feedback)
        click.echo(f"feedback for {len(written)} submissions in {feedback}", err=True)
    ungraded = [r for r in reports if r.error]
    for r in ungraded:
        click.echo(f"error: {shown(r.submission)}: {shown(r.error)}", err=True)
    if ungraded:
        sys.exit(1)


def _sandbox_and_salt(seed, no_sandbox=False, escape=""):
    """(salt, salt_id) for grading student code, after making sure the sandbox can run (exit 2
    with one line if not, unless `no_sandbox`)."""
    problem = "" if no_sandbox else runner.sandbox_problem()
    if problem:
        raise BadUsage(f"{problem}; refusing to run student code without a sandbox{escape}")
    try:
        return secret.run_salt(seed)
    except secret.SecretError as exc:
        raise Failure(str(exc))


def _cluster(address, seed, device):
    """The cluster at `address`, once every worker has proved it grades like this machine (exit 2
    with one line otherwise, before any grading)."""
    from grader.engine import cluster
    try:
        return cluster.connect(address, seed=seed, device=device)
    except cluster.ClusterError as exc:
        raise BadUsage(str(exc))


def _class_ids(assignment, submissions):
    """The class view's folder name of each submission (as `classview.write` names them)."""
    from grader.reports import classview
    return classview.ids([engine.Report(assignment, str(p), []) for p in submissions])


def _roster(path, submissions):
    """The roster of `--roster` (`grader.reports.roster`), loaded and matched to the submissions
    before any grading (exit 2 with one line if it cannot be used), with a `warning:` line per
    student with no submission and per submission with no roster entry; None without one."""
    if not path:
        return None
    try:
        roster = rosters.load(path)
        lines = rosters.warnings(roster, submissions)
    except rosters.RosterError as exc:
        raise BadUsage(str(exc))
    for line in lines:
        click.echo(f"warning: {shown(line)}", err=True)
    return roster


def _class_progress(report, sid, done, outdir, roster=None):
    """One finished submission's files, and grades.csv over the submissions finished so far."""
    from grader.reports import classview
    classview.write_submission(report, outdir, sid)
    write_atomic(Path(outdir) / "grades.csv", classview.grades_csv(copy.deepcopy(done), roster=roster))


def _class_view(assignment, reports, submissions, outdir, roster=None):
    """The class view (grader.reports.classview): kept apart from the grading itself."""
    from grader.reports import classview
    weights = engine.weights_files(assignment)
    curves = [classview.read_curves(s, weights) for s in submissions]
    problems = {}
    page = classview.write(copy.deepcopy(reports), outdir, curves, problems, roster)
    for sid, why in sorted(problems.items()):
        click.echo(f"warning: {shown(sid)}: report incomplete: {shown(why)}", err=True)
    click.echo(f"class view of {len(reports)} submissions: {page}", err=True)


@main.command("release")
@click.argument("assignment", required=False, type=ASSIGNMENT)
@click.option("--check", "check_only", is_flag=True, help="Exit 1 if assignments/ is out of sync with solutions/.")
@click.option("--kit", type=click.Path(), help="Build the student kit archive (a .zip path or a folder to put it in).")
@click.option("--nbgrader", "nb_course", type=click.Path(file_okay=False),
              help="Write nbgrader source notebooks into COURSE/source/ (and COURSE/nbgrader_config.py).")
@click.option("--gradescope", type=click.Path(), help="Build the Gradescope autograder zip (a .zip path or a folder).")
@click.option("--give-earlier", is_flag=True,
              help="With --kit: the files that come from earlier assignments as working code "
                   "(their answer keys) instead of stubs; use only after those deadlines.")
def release_cmd(assignment, check_only, kit, nb_course, gradescope, give_earlier):
    """Regenerate assignments/ (student stubs + public cases) from solutions/; with --kit, build
    the archive students install from; with --nbgrader, an nbgrader course's source notebooks;
    with --gradescope, the autograder zip."""
    from grader.release import stubs as release_mod
    root = course.root()
    if give_earlier and not kit:
        raise BadUsage("--give-earlier needs --kit (assignments/ and nbgrader's source/ keep the stubs)")
    for option, value, suffix in (("--kit", kit, ".zip"), ("--gradescope", gradescope, ".zip")):
        if value:
            _usable(destinations.check_out_path, option, value, suffix)
    if nb_course:
        _usable(destinations.check_out_folder, "--nbgrader", nb_course)
    if gradescope:
        if not assignment:
            raise click.UsageError("--gradescope needs an ASSIGNMENT")
        from grader.release.gradescope import build
        click.echo(f"{assignment}: Gradescope autograder written to {build(assignment, root, Path(gradescope))}")
        return
    if nb_course:
        from grader.release.nbgrader import release as nb_release
        for a in [assignment] if assignment else engine.assignments():
            try:
                click.echo(f"{a}: source notebook {nb_release(a, root, Path(nb_course))}")
            except release_mod.ReleaseError as exc:
                raise Failure(str(exc))
        return
    if kit:
        if not assignment:
            raise click.UsageError("--kit needs an ASSIGNMENT")
        from grader.release.kit import build_kit
        try:
            click.echo(f"{assignment}: kit written to {build_kit(assignment, root, Path(kit), give_earlier=give_earlier)}")
        except release_mod.ReleaseError as exc:
            raise Failure(str(exc))
        return
    stale = False
    for a in [assignment] if assignment else engine.assignments():
        try:
            if check_only:
                diffs = release_mod.differences(a, root)
                stale |= bool(diffs)
                click.echo(f"{a}: " + ("in sync" if not diffs else "out of sync\n  " + "\n  ".join(diffs)))
            else:
                click.echo(f"{a}: released to {release_mod.release(a, root).relative_to(root)}")
        except release_mod.ReleaseError as exc:
            raise Failure(str(exc))
    if stale:
        raise Failure("assignments/ is out of sync with solutions/: run `dlgrade release`")


@main.group("nbgrader")
def nbgrader_cmd():
    """nbgrader courses graded by dlgrade (needs `pip install nbgrader`)."""


@nbgrader_cmd.command("autograde")
@click.argument("course", type=click.Path(exists=True, file_okay=False))
@assignment_arg
@click.option("--student", "students", multiple=True, help="Only these students (default: every submission).")
@click.option("-j", "--jobs", default=2, show_default=True, type=click.IntRange(min=1), help="Worker processes in parallel.")
@click.option("--seed", default="grade", show_default=True,
              help="Mixed with the course secret into the salt of the randomized cases.")
def nbgrader_autograde(course, assignment, students, jobs, seed):
    """Trusted path: grade COURSE/submitted/*/ASSIGNMENT in sandboxed workers (the notebooks are
    never executed) and write the scores into nbgrader's gradebook."""
    try:
        from grader.release.nbgrader import autograde
    except ImportError as exc:
        raise Failure(f"nbgrader is not installed ({exc}): pip install nbgrader")
    salt, _ = _sandbox_and_salt(seed)
    try:
        graded = autograde(Path(course), assignment, jobs=jobs, students=list(students) or None,
                           opts=engine.Options(cases=engine.Oracle(), salt=salt))
    except (engine.GradeError, data.DataError) as exc:
        raise Failure(str(exc))
    for g in graded:
        click.echo(f"{g.student}: {g.report.score:g} / {g.report.max_score:g}"
                   + (f"  ({shown(g.report.error)})" if g.report.error else ""))
    click.echo(f"{len(graded)} submissions graded into the gradebook of {course}", err=True)
    ungraded = [g for g in graded if g.report.error]
    for g in ungraded:
        click.echo(f"error: {shown(g.student)}: {shown(g.report.error)}", err=True)
    if ungraded:  # the CLI contract: 1 when a submission could not be graded at all
        sys.exit(1)


def _usable(check, *args):
    """An argument checked before any work (an output destination, a shard): exit 2."""
    try:
        return check(*args)
    except (destinations.DestinationError, shards.ShardError) as exc:
        raise BadUsage(str(exc))


def _write(write, *args):
    """A write into an output folder: a failure is one line and exit 1."""
    try:
        return write(*args)
    except engine.GradeError as exc:
        raise Failure(str(exc))


@main.command("merge")
@click.argument("outdirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="The folder of the joined class view (grades.csv, summary.html, per-submission folders).")
@click.option("--roster", "roster_file", type=click.Path(dir_okay=False),
              help="As for `dlgrade grade`: student_id and name in grades.csv, canvas.csv, moodle.csv, roster_check.csv.")
def merge_cmd(outdirs, output, roster_file=None):
    """Join the output folders of `dlgrade grade --shard K/N -o OUTDIR` runs into one class view.

    \b
    Example (a Slurm job array of 8, then one merge):
      sbatch --array=0-7 --wrap 'dlgrade grade mlp subs/*.zip --shard $SLURM_ARRAY_TASK_ID/8 -o out-$SLURM_ARRAY_TASK_ID'
      dlgrade merge out-* -o class

    \b
    Exit status: 0 every submission has a result; 1 a shard or a result is missing (its
    submissions are marked pending in grades.csv), or a submission could not be graded at all;
    2 shards that cannot be joined (another class, assignment, salt or item set), before writing.
    """
    _usable(destinations.check_out_folder, "-o", output)
    outdir = Path(output)
    if any(Path(o).resolve() == outdir.resolve() for o in outdirs):
        raise BadUsage(f"-o {output}: write the joined class view to a new folder, not into a shard's")
    merged = _usable(shards.merge, outdirs)
    roster = _roster(roster_file, [r.submission for r in merged.reports])
    from grader.reports import classview
    (outdir / engine.RESULTS).mkdir(parents=True, exist_ok=True)
    for sid, source in zip(classview.ids(merged.reports), merged.sources):
        if source is not None:  # the shard's files (figures drawn there) and its resume record
            _write(shards.copy_submission, source, outdir / sid, outdir / engine.RESULTS)
    _class_view(merged.assignment, copy.deepcopy(merged.reports), [r.submission for r in merged.reports], outdir,
                roster)
    for line in merged.missing:
        click.echo(f"missing: {shown(line)}", err=True)
    ungraded = [r for r in merged.reports if r.error and r.error != engine.PENDING]
    for r in ungraded:
        click.echo(f"error: {shown(r.submission)}: {shown(r.error)}", err=True)
    click.echo(f"{len(merged.reports)} submissions from {len(outdirs)} shards: {outdir / 'grades.csv'}", err=True)
    if merged.missing or ungraded:
        sys.exit(1)
