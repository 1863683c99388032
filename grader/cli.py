"""The `dlgrade` command line: thin click wiring over `grader.api` and friends."""
import contextlib
import copy
import dataclasses
import hashlib
import json
import os
import re
import sys
import tempfile
from pathlib import Path

import click

from . import api, data, release as release_mod, report, runner, secret


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
        except click.UsageError as exc:
            click.echo(f"error: {exc.format_message()}", err=True)
            sys.exit(2)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


def _assignment_arg(f):
    return click.argument("assignment", type=click.Choice(api.ASSIGNMENTS))(f)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
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


def _prepare(assignment, paths, opts, only, tmp):
    """Unpack and check every submission before anything is graded: (folders, broken), with a
    `warning:` line for files that do not compile and for missing modules."""
    folders, broken = [], {}
    selected = api._select(assignment, opts, only)
    for k, path in enumerate(paths):
        try:
            folder = api.unpack(Path(path), Path(tmp, str(k)))
            if not api.submission_has_python(folder):
                raise api.GradeError("no .py files in the submission")
            folders.append(folder)
        except api.GradeError as exc:
            broken[k] = str(exc)
            folders.append(Path(path))
            continue
        for line in api.syntax_errors(folders[-1]):
            click.echo(f"warning: {path}: {line}", err=True)
        for name, n in api.missing_modules(assignment, folders[-1], selected).items():
            click.echo(f"warning: {path}: {name} is missing ({n} items score 0)", err=True)
    return folders, broken


def _grade(assignment, paths, opts, jobs, only, quiet=False, skip=None, on_report=None):
    """Grade `paths`; `skip` maps an index to a Report already done (--resume)."""
    skip = skip or {}
    with tempfile.TemporaryDirectory(prefix="dlgrade-sub-") as tmp:
        folders, broken = _prepare(assignment, paths, opts, only, tmp)
        todo = [k for k in range(len(paths)) if k not in skip]
        n = len(api._select(assignment, opts, only)) * len(todo)
        with click.progressbar(length=n, label=f"grading {len(todo)} submission{'s' * (len(todo) != 1)}",
                               file=sys.stderr, show_eta=True, show_pos=True,
                               hidden=quiet or not sys.stderr.isatty()) as bar:
            def done(k, r):  # as each submission finishes
                r.submission = str(paths[todo[k]])
                _finish(r, broken.get(todo[k]))
                if on_report:
                    on_report(todo[k], r)
            try:
                graded = api.grade_many(assignment, [folders[k] for k in todo], opts=opts, jobs=jobs, only=only,
                                        on_item=lambda *_: bar.update(1), on_report=done)
            except (data.DataError, api.GradeError) as exc:
                raise Failure(str(exc))
    reports = dict(skip)
    for k, r in zip(todo, graded):
        r.submission = str(paths[k])
        _finish(r, broken.get(k))
        reports[k] = r
    return [reports[k] for k in range(len(paths))]


def _finish(r, broken):
    if broken:
        r.error = broken
    elif r.items and all(i.status in ("error", "timeout") for i in r.items):
        r.error = r.error or "nothing could be graded: every item crashed or timed out"


@main.command()
@_assignment_arg
@click.argument("path", required=False, type=click.Path())
@click.option("--item", "only", multiple=True, help="Only these items (an id or a prefix such as mlp.linear).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds per item (overrides the defaults).")
def check(assignment, path, only, timeout):
    """Check your work: run the public items on PATH (default: assignments/ASSIGNMENT)."""
    folder = Path(path or Path("assignments", assignment))
    cases = folder if (folder / f"{api.PUBLIC_CASES}.json").is_file() else Path("assignments", assignment)
    try:
        public = api.load_public_cases(cases)
    except api.GradeError as exc:
        raise Failure(str(exc))
    problem = runner.sandbox_problem()
    if problem:  # a student's own machine: their own code, so a plain worker process will do
        click.echo(f"note: running without a sandbox ({problem})", err=True)
    opts = api.Options(mode="check", public=public, timeout=timeout, sandbox=not problem)
    _check_items(assignment, opts, only)
    r = _grade(assignment, [str(folder)], opts, jobs=2, only=list(only))[0]
    click.echo(report.table([r]))
    hidden = [i for i in api.items(assignment) if i.visibility == "hidden"]
    if hidden:
        click.echo(f"\n{len(hidden)} hidden items ({sum(i.points for i in hidden):g} points) are graded by your instructor.")
    if r.error:
        raise Failure(r.error)


def _check_items(assignment, opts, only):
    for o in only:
        if not api._select(assignment, opts, [o]):
            raise BadUsage(f"--item {o}: no {assignment} item has this id or prefix (see `dlgrade list {assignment}`)")


RESULTS = "results"  # OUTDIR/results/<submission key>.json
GRADEBOOK = {"table": "grades.txt", "json": "grades.json", "csv": "grades.csv", "gradescope": "results.json"}


def _outdir_mode(output, resume):
    return bool(output) and (resume or output.endswith(("/", "\\")) or Path(output).is_dir())


def _check_output(output, resume):
    if resume and not output:
        raise BadUsage("--resume needs -o OUTDIR")
    if not output:
        return
    path = Path(output)
    if _outdir_mode(output, resume):
        if path.exists() and not path.is_dir():
            raise BadUsage(f"-o {output}: not a folder")
        if not path.exists() and not path.parent.is_dir():
            raise BadUsage(f"-o {output}: {path.parent} does not exist")
    else:
        if not path.parent.is_dir():
            raise BadUsage(f"-o {output}: folder {path.parent} does not exist")
        if path.is_symlink():
            raise BadUsage(f"-o {output}: is a symbolic link")


def write_atomic(path: Path, text: str):
    """Write `text` to `path` via a temporary file and a rename: readers see the old file or the
    new one, never half of one, and a symbolic link at `path` is replaced, never written through."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _key(path):
    """A result file name for a submission path: readable, unique per path."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(path).name or "submission")[:60]
    return f"{name}-{hashlib.sha256(os.path.abspath(path).encode()).hexdigest()[:10]}"


def _record(r, content_hash, salt_id, selected):
    d = r.to_dict()
    d["checks"] = {i.id: [dataclasses.asdict(c) for c in i.checks] for i in r.items}
    return {"content_hash": content_hash, "salt_id": salt_id, "items": selected, "report": d}


def _restore(record):
    from .checks import CheckResult
    d = record["report"]
    checks = record.get("checks") or d.get("checks") or {}
    items = [api.ItemResult(i["id"], i["score"], i["max_score"], i["status"], i["visibility"], i["output"],
                            [CheckResult(**c) for c in checks.get(i["id"], [])]) for i in d["items"]]
    return api.Report(d["assignment"], d["submission"], items, error=d.get("error", ""), salt_id=d.get("salt_id", ""))


@main.command()
@_assignment_arg
@click.argument("submissions", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", type=click.Path(),
              help="A file for the result; or a folder (one that exists, or a path ending in /): each "
                   "submission's result written as it finishes, then the gradebook.")
@click.option("--resume", is_flag=True, help="With -o OUTDIR: skip submissions whose result there matches their content.")
@click.option("-j", "--jobs", default=2, show_default=True, type=click.IntRange(min=1), help="Worker processes in parallel.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "gradescope"]), default="table", show_default=True)
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds per item (overrides the defaults).")
@click.option("--seed", default="grade", show_default=True,
              help="Mixed with the course secret into the salt of the randomized cases.")
@click.option("--item", "only", multiple=True, help="Only these items (an id or a prefix).")
@click.option("--feedback", type=click.Path(file_okay=False), help="Also write per-submission feedback.txt and scores.png here.")
@click.option("--no-sandbox", is_flag=True, help="Run workers as plain processes, without bubblewrap (trusted code only).")
def grade(assignment, submissions, output, resume, jobs, fmt, device, timeout, seed, only, feedback, no_sandbox):
    """Grade SUBMISSIONS (folders or .zip files) against the reference."""
    if fmt == "gradescope" and len(submissions) != 1 and not _outdir_mode(output, resume):
        raise BadUsage("--format gradescope takes exactly one submission")
    _check_output(output, resume)
    if feedback and Path(feedback).exists() and not Path(feedback).is_dir():
        raise BadUsage(f"--feedback {feedback}: not a folder")
    if device == "cuda":
        from reference.backend import cupy_available
        if not cupy_available():
            raise BadUsage("--device cuda needs CuPy and a CUDA device")
    problem = "" if no_sandbox else runner.sandbox_problem()
    if problem:
        raise BadUsage(f"{problem}; refusing to run student code without a sandbox (--no-sandbox to do it anyway)")
    try:
        salt, salt_id = secret.run_salt(seed)
    except secret.SecretError as exc:
        raise Failure(str(exc))
    opts = api.Options(mode="grade", salt=salt, timeout=timeout, device=device, sandbox=not no_sandbox)
    _check_items(assignment, opts, only)
    selected = [i.id for i in api._select(assignment, opts, list(only))]
    paths = list(submissions)
    outdir = Path(output) if _outdir_mode(output, resume) else None
    skip, hashes = {}, {}
    if outdir:
        (outdir / RESULTS).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="dlgrade-hash-") as tmp:
            for k, path in enumerate(paths):
                try:
                    hashes[k] = api.content_hash(api.unpack(Path(path), Path(tmp, str(k))), assignment)
                except (api.GradeError, runner.SubmissionError):
                    hashes[k] = ""
                record_path = outdir / RESULTS / f"{_key(path)}.json"
                if resume and hashes[k] and record_path.is_file():
                    with contextlib.suppress(ValueError, KeyError, TypeError, OSError):
                        record = json.loads(record_path.read_text())
                        if (record["content_hash"], record["salt_id"], record["items"]) == (hashes[k], salt_id, selected):
                            skip[k] = _restore(record)

    def save(k, r):
        r.salt_id = salt_id
        if outdir and hashes.get(k):
            write_atomic(outdir / RESULTS / f"{_key(paths[k])}.json",
                         json.dumps(_record(r, hashes[k], salt_id, selected), indent=1) + "\n")

    reports = _grade(assignment, paths, opts, jobs, list(only), skip=skip, on_report=save)
    for r in reports:
        r.salt_id = salt_id
    if outdir:
        name = GRADEBOOK[fmt] if fmt != "gradescope" or len(reports) == 1 else GRADEBOOK["json"]
        write_atomic(outdir / name, _render(reports, "json" if name == GRADEBOOK["json"] else fmt) + "\n")
        click.echo(f"{len(reports) - len(skip)} graded, {len(skip)} already done (--resume): {outdir / name}", err=True)
    else:
        text = _render(reports, fmt)
        if output:
            write_atomic(Path(output), text + "\n")
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
