"""Grading on a Dask distributed cluster: `dlgrade grade A SUBS... --cluster ADDRESS`.

The instructor's machine takes the class in as always (`engine.class_run`: unpacked, checked,
hashed, records in -o OUTDIR as each submission finishes, `--resume`); only the grading moves.
Each submission travels to a worker as its files (bytes, from the grader's own snapshot); the
worker grades it with the same sandbox as a local run (`grade_many`, one pre-started sandboxed
worker per submission) and sends back the result record as JSON text, which is validated here
like anything else that crosses a boundary. Nothing is unpickled from what a submission produced:
student code runs only inside bubblewrap, without network, on the worker.

    grader = connect("tcp://10.0.0.5:8786", seed="grade", device="cpu")   # refuses unlike workers
    with engine.class_run(...) as run:
        reports = run.grade(grader=grader, on_report=...)

- Every worker must run the same course (`fingerprint`: dlgrade, the references and the
  course's grading files) with the same course secret (the salt's id for `--seed`), and sandbox
  student code in bubblewrap; `connect` refuses otherwise, naming each worker and what differs.
  The secret never travels: workers derive the salt themselves, and a task re-checks both.
- With `--device cuda`, items that run student code on the device go only to workers started
  with the resource `GPU` (`dask worker ... --resources GPU=1`); trusted items (evaluated by
  the reference) and every item of a CPU run go anywhere.
- A worker lost mid-submission: the scheduler gives its tasks to another worker, which grades
  them again from the same files and salt, so the result is the same. A submission that times
  out or crashes its own sandbox has a result (the student's), and is never retried.
"""
import base64
import binascii
import contextlib
import dataclasses
import functools
import hashlib
import json
import tempfile
import uuid
from pathlib import Path

import grader
from grader.engine.grading import (NOT_GRADED, Options, SharedExclusiveLock, grade_many, missing_result,
                                   select_items)
from grader.engine.intake import snapshot
from grader.engine.run import LOST, record, restore
from grader.items import TrustedItem
from grader.reports.figures import DrawnFigure
from grader.results import STATUSES, GradeError, Report

PNG = b"\x89PNG\r\n\x1a\n"
GPU = "GPU"              # the worker resource items that run student code on a GPU need
CONNECT_TIMEOUT = "10s"  # reaching the scheduler
WAIT_WORKERS_S = 30      # for the first worker to join


class ClusterError(Exception):
    """A cluster that cannot grade this run (one line)."""


# --------------------------------------------------------------------------- identity
@functools.lru_cache(maxsize=None)
def fingerprint() -> str:
    """What a worker grades with: a hash of dlgrade's and the references' code and the course's
    grading files (registries, known bugs, drivers, datasets). Two machines with the same
    fingerprint give the same verdicts for the same files, salt and options."""
    from grader import course
    import reference
    h = hashlib.sha256()
    roots = [(Path(grader.__file__).parent, "**/*.py"), (Path(reference.__file__).parent, "**/*.py"),
             (course.root() / "solutions", "*/grading.py"), (course.root() / "solutions", "*/mutants.py"),
             (course.root() / "solutions", "*/drivers.py"), (course.root() / "solutions", "datasets.py")]
    for base, pattern in roots:
        for path in sorted(base.glob(pattern)):
            if "__pycache__" not in path.parts:
                h.update(f"{path.relative_to(base)}\0".encode() + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def identity(seed: str) -> dict:
    """What `connect` compares across workers (run on each of them): the course fingerprint, the
    id of the salt `seed` makes with this machine's course secret, and the sandbox."""
    from grader import secret
    from grader.sandbox.runner import sandbox_kind, sandbox_problem
    try:
        salt_id = secret.run_salt(seed)[1]
    except secret.SecretError as exc:
        salt_id = f"no course secret ({exc})"
    problem = sandbox_problem()
    if not problem and sandbox_kind() != "bwrap":
        problem = f"the {sandbox_kind()} sandbox leaves student code the network (the cluster's ports): use bubblewrap"
    return {"dlgrade": grader.__version__, "course": fingerprint(), "salt_id": salt_id, "sandbox": problem}


def _cuda_problem() -> str:
    from reference.backend import cuda_problem
    return cuda_problem()


def connect(address: str, *, seed: str, device: str = "cpu"):
    """A `Grader` for the cluster at `address`, after checking that every worker grades like this
    machine would (see the module's docstring); ClusterError (one line) otherwise."""
    try:
        from distributed import Client
    except ImportError:
        raise ClusterError("--cluster needs Dask distributed: pip install 'dlgrade[cluster]'") from None
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(f"--cluster {address}: cannot reach a Dask scheduler ({type(exc).__name__}: "
                           f"{str(exc).splitlines()[0] if str(exc) else 'no answer'})") from None
    try:
        check_workers(client, seed=seed, device=device)
    except BaseException:
        client.close()
        raise
    return Grader(client, seed=seed)


def check_workers(client, *, seed: str, device: str):
    """ClusterError unless every worker has this machine's `identity` (and, for `device="cuda"`,
    at least one worker has the GPU resource and each of those finds CUDA)."""
    try:
        client.wait_for_workers(1, timeout=WAIT_WORKERS_S)
    except TimeoutError:
        raise ClusterError(f"no worker joined the scheduler within {WAIT_WORKERS_S} s (start `dask worker ADDRESS`)") \
            from None
    mine = identity(seed)
    problems = []
    for worker, theirs in sorted(client.run(identity, seed, on_error="return").items()):
        if isinstance(theirs, BaseException):
            problems.append(f"{worker}: cannot run dlgrade ({type(theirs).__name__}: {str(theirs)[:200]})")
            continue
        if theirs["sandbox"]:
            problems.append(f"{worker}: cannot sandbox student code ({theirs['sandbox']})")
        for what, label in (("dlgrade", "dlgrade version"), ("course", "course version"), ("salt_id", "course secret")):
            if theirs[what] != mine[what]:
                problems.append(f"{worker}: another {label} ({theirs[what]}, here {mine[what]})")
    if device == "cuda":
        gpus = [w for w, info in client.scheduler_info()["workers"].items() if info.get("resources", {}).get(GPU)]
        if not gpus:
            problems.append(f"--device cuda: no worker has the {GPU} resource (dask worker ... --resources {GPU}=1)")
        else:
            found = client.run(_cuda_problem, workers=gpus, on_error="return")
            problems += [f"{w}: started with {GPU} but {why}" for w, why in sorted(found.items()) if why]
    if problems:
        raise ClusterError(f"refusing to grade on this cluster: {problems[0]}"
                           + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))


# --------------------------------------------------------------------------- the worker's side
_LOCK = SharedExclusiveLock()  # one per worker process: timed items run with no other item beside them


def grade_on_worker(assignment: str, files: dict, name: str, request: dict) -> str:
    """Run on a Dask worker: grade the submission made of `files` ({relative path: bytes}) on the
    items `request["items"]`, and return its result record as JSON text (`run.record`)."""
    from grader import secret
    if fingerprint() != request["course"]:
        raise ClusterError(f"this worker runs another course version ({fingerprint()}, the run {request['course']})")
    salt, salt_id = secret.run_salt(request["seed"])
    if salt_id != request["salt_id"]:
        raise ClusterError("this worker has another course secret than the run")
    opts = Options(salt=salt, timeout=request["timeout"], device=request["device"])
    with tempfile.TemporaryDirectory(prefix="dlgrade-cluster-") as tmp:
        folder = Path(tmp, "submission")
        _write_files(folder, files)
        report = grade_many(assignment, [folder], opts=opts, jobs=1, only=request["items"], names=[name],
                            salt_id=salt_id, lock=_LOCK)[0]
        drawn = _draw(report, Path(tmp, "figures"))
    return json.dumps({"record": record(report, content_hash="", salt_id=salt_id, items=request["items"], options={}),
                       "figures": drawn})


def _draw(report, folder: Path) -> list:
    """The items' figures drawn here, as PNGs (base64) the client saves into the class view: a
    figure is a drawing function, which never travels; a figure that fails to draw is left out."""
    drawn = []
    for item in report.items:
        for n, check in enumerate(item.checks):
            for fig in check.figures:
                with contextlib.suppress(Exception):
                    png = fig.save(folder / f"{len(drawn)}.png").read_bytes()
                    drawn.append({"item": item.id, "check": n, "name": fig.name, "caption": fig.caption,
                                  "png": base64.b64encode(png).decode()})
    return drawn


def _write_files(folder: Path, files: dict):
    for rel, data in files.items():
        path = folder / rel
        if Path(rel).is_absolute() or ".." in Path(rel).parts or not isinstance(data, bytes):
            raise ClusterError(f"refusing a submission file named {rel!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


# --------------------------------------------------------------------------- the client's side
def submission_files(folder: Path, assignment: str) -> dict:
    """{relative path: bytes} of what grading reads of a submission: the grader's snapshot
    (regular files only, never a link; `intake.snapshot`)."""
    with tempfile.TemporaryDirectory(prefix="dlgrade-send-") as tmp:
        copy = snapshot(Path(folder), Path(tmp, "s"), assignment)
        return {str(p.relative_to(copy)): p.read_bytes() for p in sorted(copy.rglob("*")) if p.is_file()}


def needs_gpu(item, device: str) -> bool:
    """Whether `item` must run on a worker with the GPU resource: it runs student code on the
    device (trusted items are evaluated by the reference, on any worker)."""
    return device == "cuda" and not isinstance(item, TrustedItem)


MAX_FIGURE = 4 << 20  # bytes of one PNG from a worker


def checked_items(text: str, items: list) -> list:
    """The ItemResults in a worker's JSON answer for `items`, validated: exactly those ids in
    that order, each with its item's points, a score within them and a known status; the
    figures it drew attached to their checks as PNGs (a file name, a PNG, within MAX_FIGURE)."""
    try:
        answer = json.loads(text)
        got = restore(answer["record"]).items
        by_id = {i.id: i for i in got}
        for fig in answer["figures"]:
            png, name = base64.b64decode(fig["png"], validate=True), str(fig["name"])
            checks, n = by_id[fig["item"]].checks, int(fig["check"])
            if Path(name).name != name or not name.endswith(".png") or not png.startswith(PNG) or len(png) > MAX_FIGURE:
                raise ValueError(f"figure {name!r}")
            checks[n] = dataclasses.replace(checks[n], figures=checks[n].figures
                                            + (DrawnFigure(name, str(fig["caption"])[:300], png),))
    except (ValueError, KeyError, TypeError, IndexError, binascii.Error) as exc:
        raise ClusterError(f"a worker sent an unreadable result ({type(exc).__name__})") from None
    if [i.id for i in got] != [i.id for i in items]:
        raise ClusterError("a worker sent results for other items than it was asked")
    for result, item in zip(got, items):
        if not (result.max_score == item.points and 0 <= result.score <= result.max_score
                and result.status in STATUSES and isinstance(result.output, str)):
            raise ClusterError(f"a worker sent an impossible result for {item.id}")
        result.trained = isinstance(item, TrustedItem)
    return got


class Grader:
    """Grades a class on a Dask cluster with `grade_many`'s signature (`ClassRun.grade(grader=)`)."""

    def __init__(self, client, *, seed: str):
        self.client, self.seed = client, seed
        self.run_id = uuid.uuid4().hex[:8]

    def close(self):
        self.client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def ahead(self) -> int:
        """Submissions in flight at once: twice the cluster's threads (at least 8), so workers
        never wait while the files of a class of any size are not all held in memory at once."""
        threads = sum(w.get("nthreads", 1) for w in self.client.scheduler_info()["workers"].values())
        return max(8, 2 * threads)

    def grade_many(self, assignment, submissions, *, opts: Options, jobs=None, only=None, on_item=None,
                   on_report=None, names=None, errors=None, salt_id: str = "") -> list:
        from distributed import as_completed
        from grader import secret
        errors = errors or {}
        names = [str(s) for s in submissions] if names is None else [str(n) for n in names]
        selected = select_items(assignment, opts, only)
        groups = [g for g in ([i for i in selected if not needs_gpu(i, opts.device)],
                              [i for i in selected if needs_gpu(i, opts.device)]) if g]
        salt, run_salt_id = secret.run_salt(self.seed)
        if opts.salt != salt:
            raise ClusterError("the run's salt is not the one --seed makes: workers derive it from the seed")
        base = {"seed": self.seed, "salt_id": run_salt_id, "course": fingerprint(), "timeout": opts.timeout}
        reports, parts, futures = {}, {}, {}

        def finish(k, items, error=""):
            report = Report(assignment, names[k], items, error=error, salt_id=salt_id)
            reports[k] = report
            if on_report:
                on_report(k, report)

        def send(k) -> bool:
            """Send the k-th submission's tasks; False when it cannot be graded (finished here)."""
            problem = errors.get(k, "")
            if not problem:
                try:
                    files = submission_files(submissions[k], assignment)
                except GradeError as exc:
                    problem = str(exc)
            if problem or not groups:
                finish(k, [missing_result(i, NOT_GRADED) for i in selected] if problem else [], problem)
                return False
            parts[k] = {}
            for g, group in enumerate(groups):
                gpu = needs_gpu(group[0], opts.device)
                request = dict(base, items=[i.id for i in group], device=opts.device if gpu else "cpu")
                future = self.client.submit(grade_on_worker, assignment, files, names[k], request, pure=False,
                                            key=f"dlgrade-{self.run_id}-{k}-{g}", resources={GPU: 1} if gpu else None)
                futures[future] = (k, g)
                running.add(future)
            return True

        queue = iter(range(len(submissions)))

        def send_next():  # the next submission that has tasks to send, if any
            any(send(k) for k in queue)

        running = as_completed([], loop=self.client.loop)
        for _ in range(self.ahead()):
            send_next()
        try:
            for future in running:
                k, g = futures.pop(future)
                try:
                    result = checked_items(future.result(), groups[g])
                except Exception as exc:  # noqa: BLE001  the cluster's failure costs this submission, not the run
                    result = exc
                parts[k][g] = result
                for item in groups[g]:
                    if on_item:
                        on_item(None, item)
                if len(parts[k]) == len(groups):
                    _combine(k, parts.pop(k), groups, selected, finish)
                    send_next()
        except BaseException:
            self.client.cancel(list(futures))
            raise
        return [reports[k] for k in range(len(submissions))]


def _combine(k, part, groups, selected, finish):
    failed = [p for p in part.values() if isinstance(p, Exception)]
    if failed:
        exc = failed[0]
        why = str(exc) if isinstance(exc, ClusterError) else f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        finish(k, [missing_result(i, NOT_GRADED) for i in selected], f"{LOST} ({why}); --resume grades it again")
        return
    by_id = {r.id: r for g in range(len(groups)) for r in part[g]}
    finish(k, [by_id[i.id] for i in selected])
