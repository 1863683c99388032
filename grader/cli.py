"""The `dlgrade` command line: thin click wiring over `grader.engine` and friends."""
import copy
import os
import sys
import time
from pathlib import Path

import click

from grader import engine
from grader import course
from grader.student import data
from grader.reports import figures
from grader.reports import destinations, report
from grader.reports.report import shown
from grader.sandbox import runner
from grader import secret
from grader.student.submit import KIT_MANIFEST


# The tool installed from a student kit's wheel: only the student's commands (see the end).
STUDENT_BUILD = KIT_MANIFEST.is_file()
STARTED = time.monotonic()  # Gradescope's execution_time: the whole command


class Failure(click.ClickException):
    """A one-line error, printed as `error: ...`, exit code 1."""
    exit_code = 1

    def show(self, file=None):
        click.echo(f"error: {self.message}", err=True)


class BadUsage(click.ClickException):
    """A usage error: one line, `error: ...`, exit code 2, before anything is graded."""
    exit_code = 2

    def show(self, file=None):
        click.echo(f"error: {self.message}", err=True)


class _Group(click.Group):
    """Usage errors as one line (`error: ...`, exit 2) instead of click's usage block."""

    def main(self, *args, **kwargs):
        kwargs.pop("standalone_mode", None)
        try:
            rv = super().main(*args, standalone_mode=False, **kwargs)
        except NO_ARGS_IS_HELP as exc:  # bare `dlgrade` (or `dlgrade data`): the help, as click formats it
            click.echo(exc.ctx.get_help())
            sys.exit(2)
        except click.UsageError as exc:
            click.echo("error: " + " ".join(exc.format_message().split()), err=True)  # one line
            sys.exit(2)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:  # Ctrl-C (click turns KeyboardInterrupt into Abort)
            click.echo("interrupted", err=True)
            # The workers are killed and temporary folders removed by now (the main thread's
            # `finally`s); a grading thread still inside a trusted evaluation would hold the exit
            # until it finishes: leave without waiting for it.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(130)
        sys.exit(rv if isinstance(rv, int) else 0)


NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())  # click >= 8.2


class _AssignmentType(click.ParamType):
    """An assignment of the course, checked against those discovered when the command runs
    (after `--course`), not when this module is imported."""
    name = "assignment"

    def convert(self, value, param, ctx):
        known = engine.assignments()
        if value not in known:
            self.fail(f"{value!r} is not an assignment of this course (one of: {', '.join(known) or 'none found'})",
                      param, ctx)
        return value


ASSIGNMENT = _AssignmentType()


def _assignment_arg(f):
    return click.argument("assignment", type=ASSIGNMENT)(f)


def _set_course(ctx, param, value):
    if value is not None:
        if not (Path(value) / "solutions").is_dir():
            raise click.BadParameter(f"{value}: not a course folder (it has no solutions/)", ctx, param)
        os.environ["DLGRADE_COURSE"] = str(Path(value).resolve())
    return value


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dlgrade-student" if STUDENT_BUILD else "dlgrade")
@click.option("--course", type=click.Path(exists=True, file_okay=False), callback=_set_course, expose_value=False,
              is_eager=True, help="The course folder whose solutions/*/grading.py define the assignments "
                                  "(default: $DLGRADE_COURSE, else the course installed with dlgrade; "
                                  "never the current folder).")
def main():
    """dlgrade: deep learning from scratch, auto-graded."""


@main.command("list")
@click.argument("assignment", required=False, type=ASSIGNMENT)
def list_items(assignment):
    """List graded items with points and visibility."""
    for a in [assignment] if assignment else engine.assignments():
        its = engine.items(a)
        click.echo(f"{a}: {len(its)} items, {sum(i.points for i in its):g} points  [{course.source(a)}]")
        if course.title(a):
            click.echo(f"  {course.title(a)}")
        width = max(len(i.id) for i in its)
        for i in its:
            click.echo(f"  {i.id:<{width}} {i.points:>5g}  {i.visibility}")


def _grade(assignment, paths, opts, jobs, only, *, salt_id="", outdir=None, resume=False, on_report=None):
    """Grade `paths` (folders or zips, each unpacked once; `engine.class_run`), with a `warning:`
    line for files that do not compile and for missing modules: (reports in order, how many a
    result in OUTDIR already held)."""
    try:
        with engine.class_run(assignment, paths, opts=opts, only=only, salt_id=salt_id, outdir=outdir,
                              resume=resume) as run:
            for path, line in run.warnings:
                click.echo(f"warning: {path}: {line}", err=True)
            n = len(run.todo)
            with click.progressbar(length=run.size, label=f"grading {n} submission{'s' * (n != 1)}", file=sys.stderr,
                                   show_eta=True, show_pos=True, hidden=not sys.stderr.isatty()) as bar:
                return run.grade(jobs=jobs, on_item=lambda *_: bar.update(1), on_report=on_report), len(run.done)
    except (data.DataError, engine.GradeError) as exc:
        raise Failure(str(exc))


def _student_folder(assignment, path):
    """The folder `check` and `submit` work on, and its assignment: PATH, else the current folder
    when it holds a released assignment's public cases, else assignments/ASSIGNMENT."""
    if path is None:
        here = Path(".")
        if (here / f"{engine.PUBLIC_CASES}.json").is_file() and (
                assignment is None or _infer(here) == assignment):
            path = here
        elif assignment is not None:
            path = Path("assignments", assignment)
        else:
            raise click.UsageError("name the assignment, or run this in your assignment folder")
    folder = Path(path)
    return (assignment or _infer(folder)), folder


def _infer(folder):
    from grader.student.submit import infer_assignment
    try:
        return infer_assignment(folder)
    except engine.GradeError as exc:
        raise Failure(str(exc))


def _check(assignment, folder, only, timeout, device="cpu"):
    """Run the public items on `folder` from its public cases; never downloads data."""
    where = folder if (folder / f"{engine.PUBLIC_CASES}.json").is_file() else Path("assignments", assignment)
    try:
        cases = engine.PublicCases.load(where)
    except engine.GradeError as exc:
        raise Failure(str(exc))
    data.DOWNLOADS_ALLOWED = False  # a missing dataset costs the items that need it, nothing more
    problem = runner.sandbox_problem()
    if problem:  # a student's own machine: their own code, so a plain worker process will do
        click.echo(f"note: running without a sandbox ({problem})", err=True)
    opts = engine.Options(cases=cases, timeout=timeout, sandbox=not problem, device=device)
    _check_items(assignment, opts, only)
    return _grade(assignment, [str(folder)], opts, jobs=2, only=list(only))[0][0]


@main.command()
@click.argument("assignment", required=False, type=ASSIGNMENT)
@click.argument("path", required=False, type=click.Path())
@click.option("--item", "only", multiple=True, help="Only these items (an id or a prefix such as mlp.linear).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds per item (overrides the defaults).")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True,
              help="cuda: your functions get CuPy arrays (needs CuPy and a GPU).")
def check(assignment, path, only, timeout, device):
    """Check your work: run the public items on PATH (default: this folder when it is an
    assignment folder, else assignments/ASSIGNMENT). Never downloads anything."""
    _check_device(device)
    assignment, folder = _student_folder(assignment, path)
    r = _check(assignment, folder, only, timeout, device)
    click.echo(report.table([r]))
    from grader.student.submit import earlier_stubs
    for line in earlier_stubs(assignment, folder):
        click.echo(f"note: {line}")
    if figures.of(r.items):
        click.echo("\nFigures:")
        for line in figures.save_all(r.items, folder / "feedback"):
            click.echo(f"  feedback/{line}")
    hidden = [i for i in engine.items(assignment) if i.visibility == "hidden"]
    if hidden:
        click.echo(f"\n{len(hidden)} hidden items ({sum(i.points for i in hidden):g} points) are graded by your instructor.")
    if r.error:
        raise Failure(r.error)


def _check_device(device):
    """A usage error (one line, exit 2) when `--device cuda` cannot run here: before any work."""
    if device != "cuda":
        return
    try:
        from reference.backend import cuda_problem
        problem = cuda_problem()
    except ImportError:  # the student kit ships no reference/: ask CuPy itself
        try:
            import cupy
            problem = "" if cupy.cuda.runtime.getDeviceCount() > 0 else "CuPy finds no CUDA device"
        except Exception as exc:
            problem = f"{type(exc).__name__}: {exc}".splitlines()[0]
        problem = problem and f"--device cuda needs CuPy and a CUDA device ({problem})"
    if problem:
        raise BadUsage(problem)


def _check_items(assignment, opts, only):
    for o in only:
        if not engine.select_items(assignment, opts, [o]):
            raise BadUsage(f"--item {o}: no {assignment} item has this id or prefix (see `dlgrade list {assignment}`)")


def _usable(check, *args):
    """An output destination checked before any work (`grader.reports.destinations`): exit 2."""
    try:
        check(*args)
    except destinations.DestinationError as exc:
        raise BadUsage(str(exc))


def _render(reports, fmt):
    try:
        return report.render(reports, fmt, execution_time=time.monotonic() - STARTED)
    except ValueError as exc:
        raise click.UsageError(str(exc))


def write_atomic(path: Path, text: str):
    """`engine.write_atomic`: a failed write is one line and exit 1."""
    try:
        engine.write_atomic(Path(path), text)
    except engine.GradeError as exc:
        raise Failure(str(exc))


@main.command()
@click.argument("assignment", required=False, type=ASSIGNMENT)
@click.argument("path", required=False, type=click.Path(file_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Where to write the zip (default: PATH/submission.zip).")
@click.option("--no-check", is_flag=True, help="Do not run the public items first.")
def submit(assignment, path, output, no_check):
    """Check the files of your assignment folder and pack them into submission.zip."""
    from grader.student import submit as sub
    assignment, folder = _student_folder(assignment, path)
    try:
        plan = sub.plan(assignment, folder)
    except engine.GradeError as exc:
        raise Failure(str(exc))
    for line in plan.warnings:
        click.echo(f"warning: {line}", err=True)
    for line in plan.errors:
        click.echo(f"error: {line}", err=True)
    if plan.errors:
        raise Failure(f"{len(plan.errors)} problem(s) above; nothing written")
    if not no_check:
        r = _check(assignment, folder, (), None)
        public = sum(i.max_score for i in r.items)
        click.echo(f"public items: {r.score:g} / {public:g} points "
                   f"({sum(i.status == 'passed' for i in r.items)} of {len(r.items)} passed; "
                   f"`dlgrade check` shows the details)")
    out = sub.pack(folder, plan.files, Path(output) if output else folder / "submission.zip")
    click.echo(f"wrote {out}: {', '.join(sorted(plan.files))}")


@main.command()
@_assignment_arg
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
def grade(assignment, submissions, output, resume, jobs, fmt, device, timeout, seed, only, feedback, no_sandbox):
    """Grade SUBMISSIONS (folders or .zip files) against the reference.

    \b
    Examples:
      dlgrade grade mlp alice.zip                    one submission: items and details
      dlgrade grade mlp subs/*.zip -j 2 -o results   the class view: grades.csv, feedback, summary.html
      dlgrade grade mlp subs/*.zip -o results --resume   continue an interrupted run
      dlgrade grade mlp subs/*.zip --format csv -o grades.csv   only the gradebook

    \b
    Exit status: 0 every submission graded; 1 a submission could not be graded at all
    (its row says why; the others are graded) or a write failed; 2 a usage error, before
    any grading; 130 interrupted (Ctrl-C; -o OUTDIR keeps what finished: --resume).
    """
    if fmt == "gradescope" and len(submissions) != 1 and not destinations.outdir_mode(output, resume):
        raise BadUsage("--format gradescope takes exactly one submission")
    _usable(destinations.check_output, output, resume)
    if feedback:
        _usable(destinations.check_out_folder, "--feedback", feedback)
    _check_device(device)
    salt, salt_id = _sandbox_and_salt(seed, no_sandbox, " (--no-sandbox to do it anyway)")
    opts = engine.Options(cases=engine.Oracle(), salt=salt, timeout=timeout, device=device, sandbox=not no_sandbox)
    _check_items(assignment, opts, only)
    paths = list(submissions)
    outdir = Path(output) if destinations.outdir_mode(output, resume) else None
    sids = _class_ids(assignment, paths)

    def progress(k, r, so_far):  # the class view grows as submissions finish: their files, and grades.csv so far
        if outdir:
            _class_progress(copy.deepcopy(r), sids[k], so_far, outdir)

    reports, skipped = _grade(assignment, paths, opts, jobs, list(only), salt_id=salt_id, outdir=outdir, resume=resume,
                              on_report=progress)
    if outdir:  # the class view (grades.csv with a status column, per-submission files, summary.html)
        _class_view(assignment, copy.deepcopy(reports), paths, outdir)
        name = report.GRADEBOOK[fmt] if fmt != "gradescope" or len(reports) == 1 else report.GRADEBOOK["json"]
        if fmt != "csv":  # and the chosen format beside it
            write_atomic(outdir / name, _render(reports, "json" if name == report.GRADEBOOK["json"] else fmt) + "\n")
        click.echo(f"{len(reports) - skipped} graded, {skipped} already done (--resume): {outdir / name}", err=True)
    else:
        text = _render(reports, fmt)
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


def _class_ids(assignment, submissions):
    """The class view's folder name of each submission (as `classview.write` names them)."""
    from grader.reports import classview
    return classview.ids([engine.Report(assignment, str(p), []) for p in submissions])


def _class_progress(report, sid, done, outdir):
    """One finished submission's files, and grades.csv over the submissions finished so far."""
    from grader.reports import classview
    classview.write_submission(report, outdir, sid)
    write_atomic(Path(outdir) / "grades.csv", classview.grades_csv(copy.deepcopy(done)))


def _class_view(assignment, reports, submissions, outdir):
    """The class view (grader.reports.classview): kept apart from the grading itself."""
    from grader.reports import classview
    weights = engine.weights_files(assignment)
    curves = [classview.read_curves(s, weights) for s in submissions]
    problems = {}
    page = classview.write(copy.deepcopy(reports), outdir, curves, problems)
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
@_assignment_arg
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


@main.group("data")
def data_cmd():
    """Download, locate and verify datasets (cifar10, names, shakespeare)."""


_dataset = click.argument("name", type=click.Choice(sorted(data.DATASETS)))


@data_cmd.command("fetch")
@_dataset
@click.option("--force", is_flag=True, help="Download again even if a verified copy exists.")
def data_fetch(name, force):
    """Download NAME (or find it in $DLGRADE_DATA), verify its checksum, cache it."""
    try:
        click.echo(data.fetch(name, force=force))
    except data.DataError as exc:
        raise Failure(str(exc))


@data_cmd.command("path")
@_dataset
def data_path(name):
    """Print where NAME's file is (or would be)."""
    click.echo(data.path(name))


@data_cmd.command("verify")
@_dataset
def data_verify(name):
    """Check the md5 of every file of NAME that is read."""
    try:
        results = data.verify(name)
    except data.DataError as exc:
        raise Failure(str(exc))
    for fname, ok in results:
        click.echo(f"{'ok  ' if ok else 'BAD '} {fname}")
    if not all(ok for _, ok in results):
        raise Failure(f"{name}: checksum mismatch; run `dlgrade data fetch {name} --force`")


# In a student kit (the tool installed from its wheel) only the student's commands exist.
STUDENT_COMMANDS = ("check", "submit", "data", "list")
if STUDENT_BUILD:
    for _name in [n for n in main.commands if n not in STUDENT_COMMANDS]:
        del main.commands[_name]


if __name__ == "__main__":
    main()
