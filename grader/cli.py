"""The `dlgrade` command line: thin click wiring over `grader.api` and friends."""
import copy
import sys
import tempfile
from pathlib import Path

import click

from . import api, data, release as release_mod, report


class Failure(click.ClickException):
    """A one-line error, printed as `error: ...`, exit code 1."""
    exit_code = 1

    def show(self, file=None):
        click.echo(f"error: {self.message}", err=True)


def _assignment_arg(f):
    return click.argument("assignment", type=click.Choice(api.ASSIGNMENTS))(f)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dlgrade")
def main():
    """dlgrade: deep learning from scratch, auto-graded."""


@main.command("list")
@click.argument("assignment", required=False, type=click.Choice(api.ASSIGNMENTS))
def list_items(assignment):
    """List graded items with points and visibility."""
    for a in [assignment] if assignment else api.ASSIGNMENTS:
        its = api.items(a)
        click.echo(f"{a}: {len(its)} items, {sum(i.points for i in its):g} points")
        for i in its:
            click.echo(f"  {i.id:<36} {i.points:>5g}  {i.visibility}")


def _render(reports, fmt):
    if fmt == "json":
        return report.to_json(reports)
    if fmt == "csv":
        return report.to_csv(reports)
    if fmt == "gradescope":
        if len(reports) != 1:
            raise click.UsageError("--format gradescope takes exactly one submission")
        return report.to_gradescope(reports[0])
    return report.table(reports)


def _grade(assignment, paths, opts, jobs, only, quiet=False):
    with tempfile.TemporaryDirectory(prefix="dlgrade-sub-") as tmp:
        folders, broken = [], {}
        for k, path in enumerate(paths):
            try:
                folders.append(api.unpack(Path(path), Path(tmp, str(k))))
            except api.GradeError as exc:
                broken[k] = str(exc)
                folders.append(Path(path))
            for line in api.syntax_errors(folders[-1]) if k not in broken else []:
                click.echo(f"warning: {path}: {line}", err=True)
        n = len(api._select(assignment, opts, only)) * len(folders)
        with click.progressbar(length=n, label="grading", file=sys.stderr,
                               hidden=quiet or not sys.stderr.isatty()) as bar:
            try:
                reports = api.grade_many(assignment, folders, opts=opts, jobs=jobs, only=only,
                                         on_item=lambda *_: bar.update(1))
            except data.DataError as exc:
                raise Failure(str(exc))
    for k, r in enumerate(reports):
        r.submission = str(paths[k])
        if k in broken:
            r.error = broken[k]
        elif r.items and all(i.status in ("error", "timeout") for i in r.items):
            r.error = r.error or "nothing could be graded: every item crashed or timed out"
    return reports


@main.command()
@_assignment_arg
@click.argument("path", required=False, type=click.Path())
@click.option("--item", "only", multiple=True, help="Only these items (an id or a prefix such as mlp.linear).")
@click.option("--timeout", type=float, help="Seconds per item (overrides the defaults).")
def check(assignment, path, only, timeout):
    """Check your work: run the public items on PATH (default: assignments/ASSIGNMENT)."""
    folder = Path(path or Path("assignments", assignment))
    cases = folder if (folder / f"{api.PUBLIC_CASES}.json").is_file() else Path("assignments", assignment)
    try:
        public = api.load_public_cases(cases)
    except api.GradeError as exc:
        raise Failure(str(exc))
    opts = api.Options(mode="check", public=public, timeout=timeout)
    r = _grade(assignment, [str(folder)], opts, jobs=2, only=list(only))[0]
    click.echo(report.table([r]))
    hidden = [i for i in api.items(assignment) if i.visibility == "hidden"]
    if hidden:
        click.echo(f"\n{len(hidden)} hidden items ({sum(i.points for i in hidden):g} points) are graded by your instructor.")
    if r.error:
        raise Failure(r.error)


@main.command()
@_assignment_arg
@click.argument("submissions", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write the result here instead of stdout.")
@click.option("-j", "--jobs", default=2, show_default=True, help="Worker processes in parallel.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "gradescope"]), default="table", show_default=True)
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--timeout", type=float, help="Seconds per item (overrides the defaults).")
@click.option("--seed", default="grade", show_default=True, help="Salt for the randomized cases.")
@click.option("--item", "only", multiple=True, help="Only these items (an id or a prefix).")
@click.option("--feedback", type=click.Path(file_okay=False), help="Also write per-submission feedback.txt and scores.png here.")
def grade(assignment, submissions, output, jobs, fmt, device, timeout, seed, only, feedback):
    """Grade SUBMISSIONS (folders or .zip files) against the reference."""
    if device == "cuda":
        from reference.backend import cupy_available
        if not cupy_available():
            raise Failure("--device cuda needs CuPy and a CUDA device")
    opts = api.Options(mode="grade", salt=seed, timeout=timeout, device=device)
    reports = _grade(assignment, list(submissions), opts, jobs, list(only))
    text = _render(reports, fmt)
    if output:
        Path(output).write_text(text + "\n")
    else:
        click.echo(text)
    if feedback:
        from .feedback import write
        written = write(copy.deepcopy(reports), feedback)
        click.echo(f"feedback for {len(written)} submissions in {feedback}", err=True)
    ungraded = [r for r in reports if r.error]
    for r in ungraded:
        click.echo(f"error: {r.submission}: {r.error}", err=True)
    if ungraded:
        sys.exit(1)


@main.command("release")
@click.argument("assignment", required=False, type=click.Choice(api.ASSIGNMENTS))
@click.option("--check", "check_only", is_flag=True, help="Exit 1 if assignments/ is out of sync with solutions/.")
def release_cmd(assignment, check_only):
    """Regenerate assignments/ (student stubs + public cases) from solutions/."""
    root = Path.cwd()
    stale = False
    for a in [assignment] if assignment else api.ASSIGNMENTS:
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


if __name__ == "__main__":
    main()
