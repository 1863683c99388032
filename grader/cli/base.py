"""What every `dlgrade` command shares: the command group, its one-line errors and exit codes,
the assignment argument, and the grading loop with its progress bar."""
import os
import sys
import time
from pathlib import Path

import click

from grader import engine
from grader.reports import report
from grader.student import data
from grader.student.manifest import KIT_MANIFEST

# The tool installed from a student kit's wheel (its version is dlgrade-student's).
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


NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())  # click >= 8.2


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


class _Known(click.ParamType):
    """A name checked against what the course declares when the command runs (after `--course`),
    not when this module is imported."""

    def __init__(self, name, what, known):
        self.name, self.what, self.known = name, what, known

    def convert(self, value, param, ctx):
        known = self.known()
        if value not in known:
            self.fail(f"{value!r} is not {self.what} of this course (one of: {', '.join(known) or 'none found'})",
                      param, ctx)
        return value


ASSIGNMENT = _Known("assignment", "an assignment", engine.assignments)
DATASET = _Known("dataset", "a dataset", lambda: sorted(data.DATASETS))


def assignment_arg(f):
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


def grade_paths(assignment, paths, opts, jobs, only, *, salt_id="", outdir=None, resume=False, on_report=None,
                grader=None):
    """Grade `paths` (folders or zips, each unpacked once; `engine.class_run`), with a `warning:`
    line for files that do not compile and for missing modules: (reports in order, how many a
    result in OUTDIR already held). `grader`: a cluster to grade on (`engine.cluster.Grader`)."""
    try:
        with engine.class_run(assignment, paths, opts=opts, only=only, salt_id=salt_id, outdir=outdir,
                              resume=resume) as run:
            for path, line in run.warnings:
                click.echo(f"warning: {path}: {line}", err=True)
            n = len(run.todo)
            with click.progressbar(length=run.size, label=f"grading {n} submission{'s' * (n != 1)}", file=sys.stderr,
                                   show_eta=True, show_pos=True, hidden=not sys.stderr.isatty()) as bar:
                return (run.grade(jobs=jobs, on_item=lambda *_: bar.update(1), on_report=on_report, grader=grader),
                        len(run.done))
    except (data.DataError, engine.GradeError) as exc:
        raise Failure(str(exc))


def check_device(device):
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


def check_items(assignment, opts, only):
    """A usage error for an `--item` that names no item of `assignment`."""
    for o in only:
        if not engine.select_items(assignment, opts, [o]):
            raise BadUsage(f"--item {o}: no {assignment} item has this id or prefix (see `dlgrade list {assignment}`)")


def render(reports, fmt):
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
