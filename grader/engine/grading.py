"""Grading: run an assignment's items on submissions and make their reports.

Where expected values come from is explicit (`Options.cases`): the reference oracle
(`grader.engine.oracle.Oracle`, the default, loaded only when something is graded against it)
or the public cases of a released kit (`grader.engine.public.PublicCases`, what `dlgrade check`
uses, which never loads the oracle nor `reference`). A source has `covers(item)`,
`compared(item, salt)`, `trusted_outputs(calls, in_worker)`, `per_submission` and
`missing_data_fails_item`.
"""
import contextlib
import dataclasses
import hashlib
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from grader.engine.intake import content_hash, data_files, snapshot
from grader.engine.registry import item_rng, items
from grader.items import TrustedItem
from grader.items.checks import WrongType, apply_gates
from grader.items.models import WeightsError, load_weights
from grader.results import NOT_GRADED, GradeError, ItemResult, Report, render_checks
from grader.sandbox import timing, wire
from grader.sandbox.drivers import CostError
from grader.sandbox.runner import Limits, WorkerPool, run_worker, sandbox_problem
from grader.student.data import DataError


NOT_CHECKED = "not checked: "  # a trusted item `dlgrade check` could not run: a dataset is missing


@dataclass
class Options:
    cases: object = None         # the source of expected values: None for the reference oracle, or PublicCases
    salt: str = "grade"
    timeout: float = None        # overrides every item's timeout
    device: str = "cpu"
    sandbox: bool = True         # run workers inside bubblewrap (False: plain processes)
    prestart: bool = True        # one pre-started worker per submission forks a child per item
    pool: object = None          # set by grade_many: the runner.WorkerPool of this run
    download: bool = True        # False (`dlgrade check`): a missing dataset is an item's error, never a download


def expected_source(opts: Options):
    """The source of expected values `opts` names: the reference oracle unless told otherwise."""
    if opts.cases is not None:
        return opts.cases
    from grader.engine.oracle import Oracle  # the instructor's side: loads `reference` when used
    return Oracle()


def grade_item(item, submission: Path, opts: Options) -> ItemResult:
    result = _grade_item(item, submission, opts)
    result.trained = isinstance(item, TrustedItem)
    return result


def _grade_item(item, submission, opts):
    limits = Limits(timeout_s=opts.timeout or item.timeout)
    try:
        if isinstance(item, TrustedItem):
            checks = _grade_trusted(item, submission, opts, limits)
        else:
            checks = _grade_compared(item, submission, opts, limits)
    except _Outcome as outcome:
        return ItemResult(item.id, 0.0, item.points, outcome.status, item.visibility, outcome.message)
    except DataError:  # the grader's environment, not the student: stop with a clear message
        raise
    except Exception as exc:  # a bug in the grader must cost one item, not the whole run
        return ItemResult(item.id, 0.0, item.points, "error", item.visibility,
                          f"internal grader error ({type(exc).__name__}: {exc}); please report it")
    checks = apply_gates(checks)
    fraction = sum(c.fraction for c in checks) / len(checks)
    if all(c.passed for c in checks):
        status = "passed"
    else:
        status = "partial" if fraction > 0 else "failed"
    score = round(item.points * fraction, 4)
    return ItemResult(item.id, score, item.points, status, item.visibility, render_checks(checks), checks)


class _Outcome(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


def _worker(submission, calls, limits, opts, files=()):
    if opts.pool is not None:
        result = opts.pool.run(submission, calls, limits)
    else:
        result = run_worker(submission, calls, limits, extra_files=files, device=opts.device, sandbox=opts.sandbox)
    if result.status == "ok":
        return result
    status = {"crashed": "error"}.get(result.status, result.status)
    message = result.message
    if result.stdout.strip() and status != "not_attempted":
        message += "\nyour code printed:\n" + result.stdout[-1000:]
    raise _Outcome(status, message)


_CASES, _CASES_LOCK = {}, threading.Lock()




def _grade_compared(item, submission, opts, limits):
    calls, expected, alternatives, seconds = expected_source(opts).compared(item, opts.salt)
    if seconds is not None and not opts.timeout:  # a wide factor of the reference's time, never below the floor
        limits = dataclasses.replace(limits, timeout_s=item.time_limit(seconds))
    timed = [k for k, c in enumerate(calls) if c.driver == "speed"]
    result = _worker(submission, [c for c in calls if c.driver != "speed"], limits, opts, item.files)
    got = [_mark_types(o, t) for o, t in zip(result.outputs, result.types)]
    for k in timed:  # timed here, in the parent, against a worker holding only the reference
        try:
            got.insert(k, timing.measure(item, submission, item_rng(item.id + "/timing", opts.salt), limits=limits,
                                         device=opts.device, sandbox=opts.sandbox))
        except timing.TimingError as exc:
            raise _Outcome(exc.status, exc.message)
    return item.evaluate(calls, got, expected, alternatives)


def _mark_types(outputs, types):
    """Replace values the student returned as something other than an array or a number."""
    flat = wire.flatten(outputs)
    for key, name in types.items():
        if name not in ("ndarray", "float", "int") and not name.startswith(("float", "int")):
            flat[key] = WrongType(name)
    return wire.unflatten(flat)


def _grade_trusted(item, submission, opts, limits):
    """Items graded from submitted weights: the source of expected values evaluates the model
    (the reference in this process, or, for `dlgrade check`, the student's own layers in a worker)."""
    source = expected_source(opts)
    try:
        arch, weights, meta = load_weights(Path(submission) / item.weights)
    except WeightsError as exc:
        status = "not_attempted" if "not found" in str(exc) else "error"
        raise _Outcome(status, f"{exc} (run the training script to create it)" if status == "not_attempted" else str(exc))
    try:
        item.check_arch(arch)
    except WeightsError as exc:
        raise _Outcome("failed", str(exc))
    try:
        data = item.test_set(download=opts.download)
    except DataError as exc:
        if not source.missing_data_fails_item:  # the grader's environment, not the student: stop (grade_item)
            raise
        raise _Outcome("error", f"{NOT_CHECKED}{exc}")  # dlgrade check goes on with the other items
    try:
        calls = item.calls_for(arch, weights, meta, data)
        outputs = source.trusted_outputs(
            calls, lambda calls: _worker(submission, calls, Limits(timeout_s=max(limits.timeout_s, 300)), opts).outputs)
        return item.evaluate_outputs(outputs, meta, data)
    except _Outcome:
        raise
    except CostError as exc:  # a model over the stated bounds: the submission's failure, not the grader's
        raise _Outcome("failed", f"{item.weights}: {exc}")
    except WeightsError as exc:
        raise _Outcome("error", f"{item.weights}: {exc}")
    except Exception as exc:  # weights that do not fit the architecture
        raise _Outcome("error", f"{item.weights}: the weights do not fit the architecture ({type(exc).__name__}: {exc})")


def grade(assignment: str, submission, *, opts: Options = None, only=None, jobs: int = 2) -> Report:
    """Grade one submission folder; every item is graded even when others crash."""
    return grade_many(assignment, [submission], opts=opts, jobs=jobs, only=only)[0]


def select_items(assignment, opts, only):
    """The items `opts`'s source of expected values covers, narrowed to `only` (ids or prefixes)."""
    selected = items(assignment)
    if opts.cases is not None:
        selected = [i for i in selected if opts.cases.covers(i)]
    if only:  # an exact id selects that item; anything else is a prefix
        ids = {i.id for i in selected}
        selected = [i for i in selected if any(i.id == o or (o not in ids and i.id.startswith(o + "."))
                                               for o in only)]
    return selected


def missing_result(item, message) -> ItemResult:
    """An item that was not run: 0 points, status error, `message` as its output."""
    return ItemResult(item.id, 0.0, item.points, "error", item.visibility, message,
                      trained=isinstance(item, TrustedItem))


class SharedExclusiveLock:
    """Many holders share it, or one holds it alone: timed items run with nothing beside them."""

    def __init__(self):
        self._cond = threading.Condition()
        self._shared = 0
        self._exclusive = False
        self._waiting = 0  # exclusive holders waiting: new shared holders wait behind them

    @contextlib.contextmanager
    def hold(self, exclusive: bool):
        with self._cond:
            if exclusive:
                self._waiting += 1
                self._cond.wait_for(lambda: not self._exclusive and self._shared == 0)
                self._waiting -= 1
                self._exclusive = True
            else:
                self._cond.wait_for(lambda: not self._exclusive and self._waiting == 0)
                self._shared += 1
        try:
            yield
        finally:
            with self._cond:
                if exclusive:
                    self._exclusive = False
                else:
                    self._shared -= 1
                self._cond.notify_all()


def grade_many(assignment: str, submissions, *, opts: Options = None, jobs: int = 1, only=None,
               on_item=None, on_report=None, names=None, errors=None, salt_id: str = "", lock=None) -> list:
    """Grade several submissions with `jobs` workers in parallel; items run in any order, except
    that timed items (`item.exclusive`) run alone, after the others of their batch.
    `on_item(submission, item)` is called as each item finishes, `on_report(k, report)` as the
    k-th submission's last item does. A report names its submission `names[k]` (default: the
    path), says `errors[k]` (why the k-th cannot be graded: its items are not run) or what taking
    it in found, and `salt_id` (which salt drew the cases). `lock` (a SharedExclusiveLock) is
    shared with other runs in this process (a cluster worker grading several submissions)."""
    errors = errors or {}
    opts = opts or Options()
    if opts.sandbox and sandbox_problem():
        raise GradeError(sandbox_problem() + "; pass --no-sandbox to grade without one")
    selected = select_items(assignment, opts, only)
    with tempfile.TemporaryDirectory(prefix="dlgrade-snap-") as snap:
        # Everything below reads a grader-owned copy of regular files only: never a link,
        # FIFO or device in the submission, nor anything its code creates while it runs.
        copies, problems = [], {}
        for k, sub in enumerate(submissions):
            if k in errors:
                copies.append(None)
                problems[k] = errors[k]
                continue
            try:
                copies.append(snapshot(Path(sub), Path(snap, str(k)), assignment))
            except GradeError as exc:
                copies.append(None)
                problems[k] = str(exc)
        salts = [submission_salt(opts, c, assignment) for c in copies]
        pool = WorkerPool(extra_files=data_files(assignment), device=opts.device, sandbox=opts.sandbox) \
            if opts.prestart else None
        try:
            names = [str(s) for s in submissions] if names is None else [str(n) for n in names]
            return _grade_copies(assignment, copies, selected, dataclasses.replace(opts, pool=pool), jobs, on_item,
                                 names, problems, on_report, salts, salt_id, lock or SharedExclusiveLock())
        finally:
            if pool is not None:
                pool.close()



def submission_salt(opts, copy, assignment) -> str:
    """The salt of one submission's cases when grading: the run's salt (course secret and seed)
    mixed with a hash of the files grading reads. Every submission gets its own hidden cases, so
    inputs leaked from one run are no table for another; the same files, secret and seed always
    get the same cases, so a regrade of unchanged work reproduces its result. (`check` uses the
    stored public cases and keeps one salt: its source is not `per_submission`.)"""
    if copy is None or (opts.cases is not None and not opts.cases.per_submission):
        return opts.salt
    return hashlib.sha256(f"{opts.salt}\0{content_hash(copy, assignment)}".encode()).hexdigest()


def _grade_copies(assignment, copies, selected, opts, jobs, on_item, names, problems, on_report, salts, salt_id, lock):
    tasks = [(k, s, i) for k, s in enumerate(copies) for i in selected]
    left = {k: len(selected) for k in range(len(copies))}
    results = {}
    done_lock = threading.Lock()

    reports = {}

    def report(k):
        if k not in reports:
            chunk = [results[(k, n)] for n in range(len(selected))]
            reports[k] = Report(assignment, names[k], chunk, error=problems.get(k, ""), salt_id=salt_id)
        return reports[k]

    def run(task):
        k, sub, item = task
        with lock.hold(item.exclusive):
            module = item.module
            if sub is None:
                result = missing_result(item, NOT_GRADED)  # why: once, as the report's error
            elif module and not isinstance(item, TrustedItem) and not (sub / f"{module}.py").is_file():
                result = missing_result(item, f"{module}.py is missing from the submission")
            else:
                result = grade_item(item, sub, dataclasses.replace(opts, salt=salts[k]))
        with done_lock:
            results[(k, selected.index(item))] = result
            left[k] -= 1
            finished = left[k] == 0
        if finished and opts.pool is not None:
            opts.pool.release(sub)
        if on_item:
            on_item(sub, item)
        if finished and on_report:
            on_report(k, report(k))
        return result

    for k in range(len(copies)):
        if not selected and on_report:
            on_report(k, report(k))
    order = sorted(range(len(tasks)), key=lambda t: tasks[t][2].exclusive)
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        list(pool.map(run, [tasks[t] for t in order]))
    except BaseException:  # Ctrl-C: drop the queued items (grade_many then kills the workers)
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return [report(k) for k in range(len(copies))]

