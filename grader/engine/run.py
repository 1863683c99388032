"""A class run: every named submission taken in once (unpacked, checked, hashed), graded, and,
with an output folder, a result record per submission that `--resume` reuses while the
submission's content, the run's salt, the items and the scoring options are unchanged.

    with engine.class_run("mlp", paths, opts=opts, salt_id=salt_id, outdir=out, resume=True) as run:
        for path, line in run.warnings: ...
        reports = run.grade(jobs=2, on_item=..., on_report=...)

The reports come out finished: `submission` is the path as named, `error` says why a submission
could not be graded at all, `salt_id` names the salt that drew its cases.
"""
import contextlib
import dataclasses
import hashlib
import json
import os
import re
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from grader import atomic
from grader.engine.grading import NOT_CHECKED, Options, grade_many, select_items
from grader.engine.intake import EMPTY, content_hash, gradable, missing_modules, syntax_errors, unpack
from grader.items.checks import CheckResult
from grader.results import GradeError, ItemResult, Report
from grader.sandbox import wire
from grader.sandbox.runner import SubmissionError

RESULTS = "results"  # OUTDIR/results/<submission key>.json
PENDING = "pending: not graded yet (the run is still going, or was interrupted: --resume continues it)"
ALL_FAILED = "nothing could be graded: every item crashed or timed out"
LOST = "the cluster could not grade it"  # the grading machinery failed, not the submission: never recorded


@dataclass
class Entry:
    """One submission as named: where it was unpacked (`folder`), why it cannot be graded at all
    (`error`), its `content_hash` ("" when it cannot be read) and `warnings` to show first."""
    path: str
    folder: Path = None
    error: str = ""
    content_hash: str = ""
    warnings: list = field(default_factory=list)


def take_in(assignment: str, path, into: Path, selected) -> Entry:
    """Unpack and check one submission before anything is graded: the warnings are one line per
    file that does not compile and per student module missing for `selected` items."""
    entry = Entry(str(path))
    try:
        folder = unpack(Path(path), into)
    except GradeError as exc:
        entry.error = str(exc)
        return entry
    with contextlib.suppress(GradeError, SubmissionError):
        entry.content_hash = content_hash(folder, assignment)
    try:
        if not gradable(folder, assignment):
            raise GradeError(EMPTY)
    except GradeError as exc:
        entry.error = str(exc)
        return entry
    entry.folder = folder
    entry.warnings = syntax_errors(folder) + [f"{name} is missing ({n} items score 0)"
                                              for name, n in missing_modules(assignment, folder, selected).items()]
    return entry


def settle(report: Report) -> Report:
    """A report's whole-submission verdict: an error when every item crashed or timed out, unless
    each error only says that data was missing for `dlgrade check` (said per item)."""
    failed = report.items and all(i.status in ("error", "timeout") for i in report.items)
    if failed and not report.error and \
            not all(i.output.startswith(NOT_CHECKED) for i in report.items if i.status == "error"):
        report.error = ALL_FAILED
    return report


def result_key(path) -> str:
    """A result file name for a submission path: readable, unique per path."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(path).name or "submission")[:60]
    return f"{name}-{hashlib.sha256(os.path.abspath(path).encode()).hexdigest()[:10]}"


def scoring_options(opts: Options) -> dict:
    """The grading options that can change a score: a result is reused by --resume only when
    they are the same (a --timeout 0.01 run's timeouts must not come back without it)."""
    return {"timeout": opts.timeout, "device": opts.device, "sandbox": opts.sandbox}


def record(report: Report, *, content_hash: str, salt_id: str, items: list, options: dict) -> dict:
    """What `results/<key>.json` keeps of a graded submission, to be restored by `restore`."""
    d = report.to_dict()
    d["checks"] = {i.id: [{f.name: getattr(c, f.name) for f in dataclasses.fields(c) if f.name != "figures"}
                          for c in i.checks] for i in report.items}  # figures are drawn before this: not kept
    d["trained"] = [i.id for i in report.items if i.trained]  # graded from weights: feedback's "Trained models"
    return {"content_hash": content_hash, "salt_id": salt_id, "items": items, "options": options, "report": d}


def restore(saved: dict) -> Report:
    d = saved["report"]
    checks = saved.get("checks") or d.get("checks") or {}
    trained = set(d.get("trained", ()))
    items = [ItemResult(i["id"], i["score"], i["max_score"], i["status"], i["visibility"], i["output"],
                        [CheckResult(**c) for c in checks.get(i["id"], [])], trained=i["id"] in trained)
             for i in d["items"]]
    return Report(d["assignment"], d["submission"], items, error=d.get("error", ""), salt_id=d.get("salt_id", ""))


def reusable(path: Path, *, content_hash: str, salt_id: str, items: list, options: dict):
    """The report a record at `path` holds when it was made of the same content, salt, items and
    options; None otherwise (no record, an unreadable one, or anything changed)."""
    if not content_hash or not path.is_file():
        return None
    with contextlib.suppress(ValueError, KeyError, TypeError, OSError):
        saved = json.loads(path.read_text())
        if (saved["content_hash"], saved["salt_id"], saved["items"], saved["options"]) == \
                (content_hash, salt_id, items, options):
            return restore(saved)
    return None


def write_atomic(path: Path, text):
    """`grader.atomic.write` of `text` (str or bytes) to `path`; a failed write (disk full, folder
    removed) raises GradeError with one line."""
    try:
        atomic.write(path, text)
    except OSError as exc:
        raise GradeError(f"cannot write {path}: {exc.strerror or exc}") from None


class ClassRun:
    """Submissions taken in (`entries`), those a record already holds (`done`, with --resume), and
    the grading of the others (`grade`)."""

    def __init__(self, assignment, paths, *, opts, only, salt_id, outdir, resume, workdir):
        self.assignment, self.paths, self.opts, self.salt_id = assignment, [str(p) for p in paths], opts, salt_id
        self.outdir = Path(outdir) if outdir else None
        self.only = list(only)
        self.selected = select_items(assignment, opts, self.only)
        self.item_ids = [i.id for i in self.selected]
        self.entries = [take_in(assignment, p, Path(workdir, str(k)), self.selected) for k, p in enumerate(paths)]
        self.done = {}
        if self.outdir:
            (self.outdir / RESULTS).mkdir(parents=True, exist_ok=True)
            for k, entry in enumerate(self.entries):
                found = resume and reusable(self.record_path(k), content_hash=entry.content_hash,
                                            salt_id=salt_id, items=self.item_ids, options=scoring_options(opts))
                if found:
                    self.done[k] = found
        self.todo = [k for k in range(len(self.entries)) if k not in self.done]

    @property
    def warnings(self):
        """(path, line) for every submission's warnings, in order."""
        return [(e.path, line) for e in self.entries for line in e.warnings]

    @property
    def size(self) -> int:
        """Items to grade in this run: the progress bar's length."""
        return len(self.selected) * len(self.todo)

    def record_path(self, k) -> Path:
        return self.outdir / RESULTS / f"{result_key(self.paths[k])}.json"

    def with_pending(self, finished: dict) -> list:
        """Every submission in order: its report when finished, else a report marked pending, so a
        grades.csv written mid-run (or left by Ctrl-C) never looks final."""
        return [finished[k] if k in finished else Report(self.assignment, p, [], error=PENDING)
                for k, p in enumerate(self.paths)]

    def grade(self, *, jobs: int = 1, on_item=None, on_report=None, grader=None) -> list:
        """Grade the submissions not `done`; the reports of all, in order. `on_report(k, report,
        so_far)` is called as the k-th submission finishes, after its record is written, with every
        submission's report so far (`with_pending`). `grader`: where to grade (an object with
        `grade_many`, such as `engine.cluster.Grader`); default here, in `jobs` local workers."""
        finished, lock = dict(self.done), threading.Lock()

        def finish(j, report):
            k = self.todo[j]
            settle(report)
            entry = self.entries[k]
            if self.outdir and entry.content_hash and not report.error.startswith(LOST):
                write_atomic(self.record_path(k), wire.dumps(record(
                    report, content_hash=entry.content_hash, salt_id=self.salt_id, items=self.item_ids,
                    options=scoring_options(self.opts)), indent=1) + "\n")
            with lock:  # one at a time, so what is written last holds every report finished so far
                finished[k] = report
                if on_report:
                    on_report(k, report, self.with_pending(finished))

        grade = grader.grade_many if grader is not None else grade_many
        graded = grade(self.assignment, [self.entries[k].folder for k in self.todo], opts=self.opts,
                       jobs=jobs, only=self.only, on_item=on_item, on_report=finish,
                       names=[self.paths[k] for k in self.todo], salt_id=self.salt_id,
                       errors={j: self.entries[k].error for j, k in enumerate(self.todo) if self.entries[k].error})
        reports = dict(self.done)
        reports.update(zip(self.todo, graded))
        return [reports[k] for k in range(len(self.paths))]


@contextlib.contextmanager
def class_run(assignment: str, paths, *, opts: Options, only=(), salt_id: str = "", outdir=None, resume=False):
    """A `ClassRun` whose unpacked submissions live as long as the `with` block."""
    with tempfile.TemporaryDirectory(prefix="dlgrade-sub-") as workdir:
        yield ClassRun(assignment, paths, opts=opts, only=only, salt_id=salt_id, outdir=outdir, resume=resume,
                       workdir=workdir)
