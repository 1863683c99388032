"""The student's commands: `list`, `check`, `submit` and `data` (all a kit's tool has)."""
from pathlib import Path

import click

from grader import course
from grader import engine
from grader.cli.base import ASSIGNMENT, DATASET, Failure, check_device, check_items, grade_paths, main
from grader.reports import figures, report
from grader.sandbox import runner
from grader.student import data


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


def student_folder(assignment, path):
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


def run_check(assignment, folder, only, timeout, device="cpu"):
    """Run the public items on `folder` from its public cases; never downloads data (a missing
    dataset costs the items that need it, nothing more)."""
    where = folder if (folder / f"{engine.PUBLIC_CASES}.json").is_file() else Path("assignments", assignment)
    try:
        cases = engine.PublicCases.load(where)
    except engine.GradeError as exc:
        raise Failure(str(exc))
    problem = runner.sandbox_problem()
    if problem:  # a student's own machine: their own code, so a plain worker process will do
        click.echo(f"note: running without a sandbox ({problem})", err=True)
    opts = engine.Options(cases=cases, timeout=timeout, sandbox=not problem, device=device, download=False)
    check_items(assignment, opts, only)
    return grade_paths(assignment, [str(folder)], opts, jobs=2, only=list(only))[0][0]


@main.command()
@click.argument("assignment", required=False, type=ASSIGNMENT)
@click.argument("path", required=False, type=click.Path())
@click.option("--item", "only", multiple=True, help="Only these items (an id or a prefix such as mlp.linear).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds per item (overrides the defaults).")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True,
              help="cuda: your functions get CuPy arrays (needs CuPy and a GPU).")
@click.option("--all-hints", is_flag=True,
              help="Show every hint level now (by default a failing item says more each time it fails again).")
def check(assignment, path, only, timeout, device, all_hints):
    """Check your work: run the public items on PATH (default: this folder when it is an
    assignment folder, else assignments/ASSIGNMENT). Never downloads anything. A failing item
    shows the failing element, then, when it fails again, the pattern of the error, then the
    known bug it matches (docs/students.md, "Hints")."""
    from grader.student import hints
    check_device(device)
    assignment, folder = student_folder(assignment, path)
    r = run_check(assignment, folder, only, timeout, device)
    shown, note = hints.progress(folder, r, all_hints=all_hints)
    click.echo(report.table([shown]))
    if note:
        click.echo(f"note: {note}", err=True)
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


@main.command()
@click.argument("assignment", required=False, type=ASSIGNMENT)
@click.argument("path", required=False, type=click.Path(file_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Where to write the zip (default: PATH/submission.zip).")
@click.option("--no-check", is_flag=True, help="Do not run the public items first.")
def submit(assignment, path, output, no_check):
    """Check the files of your assignment folder and pack them into submission.zip."""
    from grader.student import submit as sub
    assignment, folder = student_folder(assignment, path)
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
        r = run_check(assignment, folder, (), None)
        public = sum(i.max_score for i in r.items)
        click.echo(f"public items: {r.score:g} / {public:g} points "
                   f"({sum(i.status == 'passed' for i in r.items)} of {len(r.items)} passed; "
                   f"`dlgrade check` shows the details)")
    out = sub.pack(folder, plan.files, Path(output) if output else folder / "submission.zip")
    click.echo(f"wrote {out}: {', '.join(sorted(plan.files))}")


@main.group("data")
def data_cmd():
    """Download, locate and verify the course's datasets (NAME: one the course declares)."""


_dataset = click.argument("name", type=DATASET)


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
    """Check the checksums of every file of NAME that is read."""
    try:
        results = data.verify(name)
    except data.DataError as exc:
        raise Failure(str(exc))
    for fname, ok in results:
        click.echo(f"{'ok  ' if ok else 'BAD '} {fname}")
    if not all(ok for _, ok in results):
        raise Failure(f"{name}: checksum mismatch; run `dlgrade data fetch {name} --force`")
