"""The grading engine's API: what the CLI, tests and other tools call.

`grade(assignment, submission, ...)` runs every item of an assignment on one submission and
returns a `Report`. Expected outputs come from `reference/` (instructor side, mode "grade") or
from the public cases stored in a released assignment (student side, mode "check", which never
imports `reference`).
"""
import contextlib
import copy
import dataclasses
import hashlib
import importlib
import json
import os
import pkgutil
import stat
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grader import course
from grader.sandbox import timing
from grader.sandbox import wire
from grader.items.checks import CheckResult, WrongType, apply_gates
from grader.results import NOT_GRADED, GradeError, ItemResult, Report, STATUSES, render_checks  # noqa: F401
from grader.student.data import DataError
from grader.sandbox.drivers import DRIVERS, CostError, indexed
from grader.items.models import WeightsError, load_weights
from grader.sandbox.runner import (Call, Limits, SubmissionError, WorkerPool, run_worker, sandbox_problem, submission_files,
                     write_files)


def assignments() -> tuple:
    """The course's assignments in course order, discovered from its files (`grader.course`)."""
    return course.discover()


PUBLIC_CASES = "public_cases"
NO_EXPECTED = {"layer_perturbed", "loss_perturbed", "speed"}  # student-only calls  # .npz (arrays) + .json (calls and hints) in a released assignment
SHOW = "show"  # a driver output for figures only: never compared, not stored with the public cases


def items(assignment: str) -> list:
    """The graded items of an assignment, in order."""
    try:
        return course.load(assignment).ITEMS
    except course.CourseError as exc:
        raise GradeError(str(exc)) from None


def item_rng(item_id: str, salt: str) -> np.random.Generator:
    digest = hashlib.sha256(f"{salt}:{item_id}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


# --------------------------------------------------------------------------- expected values
def reference_resolve(replace=None):
    """`resolve(module, name)` over the reference package, with some classes replaced."""
    import reference.init
    import reference.layers
    import reference.losses
    import reference.optim
    modules = [reference.layers, reference.losses, reference.optim, reference.init]
    for info in pkgutil.iter_modules(reference.__path__):  # every other module of reference/, in name order
        if info.name != "backend" and not info.name.startswith("_"):
            module = importlib.import_module(f"reference.{info.name}")
            if module not in modules:
                modules.append(module)
    replace = replace or {}

    def resolve(module, name):
        if name in replace:
            return replace[name]
        for m in modules:
            if hasattr(m, name):
                return getattr(m, name)
        raise AttributeError(f"reference has no {name}")
    return resolve


def normalize(tree):
    """Driver outputs as the worker sends them: nested dicts with string keys, NumPy arrays."""
    return wire.unflatten({k: wire.to_numpy(v) for k, v in wire.flatten(tree).items() if v is not None})


def run_reference(calls, resolve, *, strict=True):
    """Driver outputs on the reference, per call; `None` for perturbation calls (and, when not
    `strict`, for calls where a known-bug variant raises)."""
    out = []
    for c in calls:
        if c.driver in NO_EXPECTED:
            out.append(None)
            continue
        try:
            out.append(normalize(DRIVERS[c.driver](resolve, c.spec, normalize(c.inputs))))
        except Exception:
            if strict:
                raise
            out.append(None)
    return out


def load_mutant(path: str):
    """A known-bug variant: `"module:Name"` or `"solutions/<a>/mutants.py:Name"` (course file)."""
    return course.load_object(path)


def expected_from_reference(item, calls):
    """Reference outputs and, per known bug of the item, what that bug would output."""
    if not item.needs_reference:
        return [None] * len(calls), []
    expected = run_reference(calls, reference_resolve())
    alternatives = []
    for mutant in item.mutants:
        replace = {k: load_mutant(v) for k, v in mutant.replace.items()}
        alternatives.append((mutant.hint, run_reference(calls, reference_resolve(replace), strict=False)))
    return expected, alternatives


# --------------------------------------------------------------------------- public cases
def save_public_cases(assignment: str, folder: Path, salt: str = "public"):
    """Write the public items' inputs, expected outputs and bug outputs into a released kit."""
    meta, arrays = {}, {}
    for item in items(assignment):
        if item.visibility != "public" or getattr(item, "trusted", False):
            continue
        calls, expected, alternatives = reference_cases(item, salt)
        meta[item.id] = {"calls": [{"driver": c.driver, "spec": c.spec} for c in calls],
                         "hints": [hint for hint, _ in alternatives]}
        arrays[item.id] = {"inputs": indexed(c.inputs for c in calls),
                           "expected": indexed(_stored(e) for e in expected),
                           "alternatives": indexed(indexed(_stored(e) for e in alt) for _, alt in alternatives)}
    wire.save(folder / f"{PUBLIC_CASES}.npz", arrays)
    (folder / f"{PUBLIC_CASES}.json").write_text(wire.dumps(meta, indent=1, sort_keys=True) + "\n")


def _stored(expected):
    """What the public cases keep of a reference output: all but its figure data (`SHOW`)."""
    return {k: v for k, v in (expected or {}).items() if k != SHOW}


def load_public_cases(folder: Path):
    """{item_id: (calls, expected, alternatives)} from a released kit."""
    meta_path = folder / f"{PUBLIC_CASES}.json"
    if not meta_path.is_file():
        raise GradeError(f"{meta_path} not found: `dlgrade check` needs the released assignment's public cases")
    meta = json.loads(meta_path.read_text())
    arrays = wire.load(folder / f"{PUBLIC_CASES}.npz")
    out = {}
    for item_id, m in meta.items():
        a = arrays.get(item_id, {})

        def nth(tree, i):
            return (tree or {}).get(str(i), {})
        calls = [Call(c["driver"], c["spec"], nth(a.get("inputs"), i)) for i, c in enumerate(m["calls"])]
        expected = [nth(a.get("expected"), i) for i in range(len(calls))]
        alts = [(hint, [nth(nth(a.get("alternatives"), k), i) for i in range(len(calls))])
                for k, hint in enumerate(m["hints"])]
        out[item_id] = (calls, expected, alts)
    return out


# --------------------------------------------------------------------------- grading
@dataclass
class Options:
    mode: str = "grade"          # "grade" (reference, all items) or "check" (public cases)
    salt: str = "grade"
    timeout: float = None        # overrides every item's timeout
    device: str = "cpu"
    public: dict = None          # check mode: load_public_cases(...)
    sandbox: bool = True         # run workers inside bubblewrap (False: plain processes)
    prestart: bool = True        # one pre-started worker per submission forks a child per item
    pool: object = None          # set by grade_many: the runner.WorkerPool of this run


def grade_item(item, submission: Path, opts: Options) -> ItemResult:
    result = _grade_item(item, submission, opts)
    result.trained = bool(getattr(item, "trusted", False))
    return result


def _grade_item(item, submission, opts):
    limits = Limits(timeout_s=opts.timeout or item.timeout)
    try:
        if getattr(item, "trusted", False):
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


REFERENCE_SECONDS = {}  # item id -> the longest the reference took on one draw of its cases, this process


def reference_cases(item, salt):
    """An item's cases and the reference's outputs on them: the same for every submission
    graded with `salt`, so computed once per process (each caller gets its own copy)."""
    key = (id(item), item.id, salt)
    with _CASES_LOCK:
        found = _CASES.get(key)
    if found is None:
        calls = item.calls(item_rng(item.id, salt))
        start = time.perf_counter()
        found = (calls, *expected_from_reference(item, calls))
        seconds = time.perf_counter() - start if item.needs_reference else 0.0
        with _CASES_LOCK:
            REFERENCE_SECONDS[item.id] = max(REFERENCE_SECONDS.get(item.id, 0.0), seconds)
            if len(_CASES) >= 512:
                _CASES.clear()
            _CASES[key] = found
    return copy.deepcopy(found)


def _grade_compared(item, submission, opts, limits):
    if opts.mode == "check":
        calls, expected, alternatives = opts.public[item.id]
    else:
        calls, expected, alternatives = reference_cases(item, opts.salt)
        if not opts.timeout:  # a wide factor of the reference's own time, never below the item's floor
            limits = dataclasses.replace(limits, timeout_s=item.time_limit(REFERENCE_SECONDS.get(item.id, 0.0)))
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
    """Items graded from submitted weights: the reference evaluates them in this process, or, for
    `dlgrade check`, the student's own layers do in a worker."""
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
        data = item.test_set()
    except DataError as exc:
        if opts.mode != "check":  # the grader's environment, not the student: stop (grade_item)
            raise
        raise _Outcome("error", f"not checked: {exc}")  # dlgrade check goes on with the other items
    try:
        calls = item.calls_for(arch, weights, meta, data)
        if opts.mode == "check":
            outputs = _worker(submission, calls, Limits(timeout_s=max(limits.timeout_s, 300)), opts).outputs
        else:
            outputs = run_reference(calls, reference_resolve())
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
    selected = items(assignment)
    if opts.mode == "check":
        selected = [i for i in selected if i.visibility == "public"]
    if only:  # an exact id selects that item; anything else is a prefix
        ids = {i.id for i in selected}
        selected = [i for i in selected if any(i.id == o or (o not in ids and i.id.startswith(o + "."))
                                               for o in only)]
    return selected


def _missing(item, message):
    return ItemResult(item.id, 0.0, item.points, "error", item.visibility, message,
                      trained=bool(getattr(item, "trusted", False)))


class SharedExclusiveLock:
    """Many holders share it, or one holds it alone: timed items run with nothing beside them."""

    def __init__(self):
        self._cond = threading.Condition()
        self._shared = 0
        self._exclusive = False

    @contextlib.contextmanager
    def hold(self, exclusive: bool):
        with self._cond:
            self._cond.wait_for(lambda: not self._exclusive and (not exclusive or self._shared == 0))
            if exclusive:
                self._exclusive = True
            else:
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
               on_item=None, on_report=None) -> list:
    """Grade several submissions with `jobs` workers in parallel; items run in any order, except
    that timed items (`item.exclusive`) run alone, after the others of their batch.
    `on_item(submission, item)` is called as each item finishes, `on_report(k, report)` as the
    k-th submission's last item does."""
    opts = opts or Options()
    if opts.sandbox and sandbox_problem():
        raise GradeError(sandbox_problem() + "; pass --no-sandbox to grade without one")
    selected = select_items(assignment, opts, only)
    with tempfile.TemporaryDirectory(prefix="dlgrade-snap-") as snap:
        # Everything below reads a grader-owned copy of regular files only: never a link,
        # FIFO or device in the submission, nor anything its code creates while it runs.
        copies, problems = [], {}
        for k, sub in enumerate(map(Path, submissions)):
            try:
                copies.append(snapshot(sub, Path(snap, str(k)), assignment))
            except GradeError as exc:
                copies.append(None)
                problems[k] = str(exc)
        salts = [submission_salt(opts, c, assignment) for c in copies]
        pool = WorkerPool(extra_files=data_files(assignment), device=opts.device, sandbox=opts.sandbox) \
            if opts.prestart else None
        try:
            return _grade_copies(assignment, copies, selected, dataclasses.replace(opts, pool=pool), jobs, on_item,
                                 submissions, problems, on_report, salts)
        finally:
            if pool is not None:
                pool.close()


def data_files(assignment):
    """The non-Python files of a submission some item reads (weights, data)."""
    names = set()
    for item in items(assignment):
        names.update(getattr(item, "files", ()) or ())
        if getattr(item, "weights", ""):
            names.add(item.weights)
    return sorted(names)


def snapshot(sub: Path, into: Path, assignment: str) -> Path:
    """Copy a submission folder's regular `.py` and data files into `into` (see
    `runner.submission_files`); the answer keys' links between `solutions/` folders are kept."""
    if sub.is_symlink():
        raise GradeError(LINKED)
    if not sub.is_dir():
        raise GradeError(f"{sub}: not a folder")
    sub = assignment_folder(sub, assignment)
    try:
        within = answer_key_links(sub)
        files = submission_files(sub, data_files(assignment), links_within=within)
    except SubmissionError as exc:
        raise GradeError(str(exc))
    if not files:
        raise GradeError(EMPTY)
    into.mkdir(parents=True)
    write_files(files, into)
    return into


def answer_key_links(sub: Path):
    """The folder within which `sub`'s links are followed: the `solutions/` folder of a course
    when `sub` is an answer key there (`<course>/solutions/<a>/`, with its registry), whose
    files link to an earlier assignment's (`cnn/layers.py -> ../mlp/layers.py`); this course's or
    a checkout graded with an installed dlgrade. None for anything else: a submission's links
    are never followed, nor those of a path that is itself a link to an answer key."""
    real = Path(os.path.realpath(sub))
    if real == Path(os.path.abspath(sub)) and real.parent.name == "solutions" and (real / course.REGISTRY).is_file():
        return real.parent
    return None


_RELEASED = {}


def expected_files(assignment) -> set:
    """The names of an assignment's files in a submission: the modules its items declare, its
    data files and, where the course knows them, the `.py` files released to students."""
    names = set(data_files(assignment))
    for item in items(assignment):
        module = getattr(item, "module", "")
        if module and not getattr(item, "trusted", False):
            names.add(f"{module}.py")
    key = (assignment, str(course.root()))
    if key not in _RELEASED:
        from grader.student.submit import manifest
        try:
            _RELEASED[key] = {Path(f).name for f in manifest(assignment).get("files", ()) if "/" not in f}
        except (GradeError, OSError):  # a course installed without its answer keys: the declared names
            _RELEASED[key] = set()
    return names | _RELEASED[key]


MAX_DEPTH = 6  # folders below the submission's root searched for the assignment's files


def assignment_folder(folder: Path, assignment: str) -> Path:
    """The folder of a submission that holds the assignment's files: `folder` itself when it holds
    any of them, else the one subfolder (with the folders inside it) that does, however deep, so
    `mlp/layers.py` beside `other/` or `__MACOSX/` is found. Files found in several unrelated
    folders raise GradeError naming them: which copy is the submission is the student's call."""
    folder = Path(folder)
    wanted = expected_files(assignment)
    if any((folder / name).is_file() for name in wanted):
        return folder
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        here = Path(dirpath)
        depth = len(here.relative_to(folder).parts)
        dirnames[:] = sorted(d for d in dirnames if depth < MAX_DEPTH and not d.startswith((".", "__MACOSX"))
                             and d != "__pycache__" and not os.path.islink(here / d))
        names = sorted(wanted & {f for f in filenames if (here / f).is_file() and not (here / f).is_symlink()})
        if names:
            found[here] = names
    if not found:
        return folder
    outer = [d for d in found if not any(o != d and d.is_relative_to(o) for o in found)]
    if len(outer) == 1:
        return outer[0]
    where = "; ".join(f"{d.relative_to(folder).as_posix()}/ ({', '.join(found[d])})" for d in outer)
    raise GradeError(f"the assignment's files are in {len(outer)} separate folders: {where}; "
                     f"submit one folder that holds them all")


def submission_salt(opts, copy, assignment) -> str:
    """The salt of one submission's cases when grading: the run's salt (course secret and seed)
    mixed with a hash of the files grading reads. Every submission gets its own hidden cases, so
    inputs leaked from one run are no table for another; the same files, secret and seed always
    get the same cases, so a regrade of unchanged work reproduces its result. (`check` uses the
    stored public cases and keeps one salt.)"""
    if opts.mode != "grade" or copy is None:
        return opts.salt
    return hashlib.sha256(f"{opts.salt}\0{content_hash(copy, assignment)}".encode()).hexdigest()


def _grade_copies(assignment, copies, selected, opts, jobs, on_item, submissions, problems, on_report, salts):
    tasks = [(k, s, i) for k, s in enumerate(copies) for i in selected]
    lock = SharedExclusiveLock()
    left = {k: len(selected) for k in range(len(copies))}
    results = {}
    done_lock = threading.Lock()
    names = [str(s) for s in submissions]

    reports = {}

    def report(k):
        if k not in reports:
            chunk = [results[(k, n)] for n in range(len(selected))]
            reports[k] = Report(assignment, names[k], chunk, error=problems.get(k, ""))
        return reports[k]

    def run(task):
        k, sub, item = task
        with lock.hold(getattr(item, "exclusive", False)):
            module = getattr(item, "module", "")
            if sub is None:
                result = _missing(item, NOT_GRADED)  # why: once, as the report's error
            elif module and not getattr(item, "trusted", False) and not (sub / f"{module}.py").is_file():
                result = _missing(item, f"{module}.py is missing from the submission")
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
    order = sorted(range(len(tasks)), key=lambda t: getattr(tasks[t][2], "exclusive", False))
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        list(pool.map(run, [tasks[t] for t in order]))
    except BaseException:  # Ctrl-C: drop the queued items (grade_many then kills the workers)
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return [report(k) for k in range(len(copies))]


# --------------------------------------------------------------------------- submissions
MAX_ZIP_BYTES = 200 << 20
MAX_ZIP_MEMBERS = 5000


LINKED = "a symbolic link: name the folder or .zip itself (a link is never followed)"


def unpack(path: Path, into: Path) -> Path:
    """A submission folder from a folder or a .zip (extracted safely into `into`).

    Zip members are extracted one by one, as regular files only (links, devices and FIFOs
    stored in the archive are skipped), each path checked to stay inside `into`; an encrypted
    or corrupt member, or more than `MAX_ZIP_BYTES` unpacked, makes the submission ungradable.
    Single top-level folders (however deeply nested) are descended into."""
    import zipfile
    import zlib
    path = Path(path)
    if path.is_symlink():  # a link to an answer key or a classmate's folder grades that
        raise GradeError(LINKED)
    if path.is_dir():
        return path
    if not path.exists():
        raise GradeError("no such file or folder")
    if not path.is_file():  # a FIFO or a device: never opened
        raise GradeError("not a folder or a .zip file")
    try:
        if not zipfile.is_zipfile(path):
            raise GradeError("not a folder or a .zip file")
        into.mkdir(parents=True, exist_ok=True)
        root = into.resolve()
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
            if len(members) > MAX_ZIP_MEMBERS:
                raise GradeError(f"more than {MAX_ZIP_MEMBERS} files in the zip")
            if sum(m.file_size for m in members) > MAX_ZIP_BYTES:
                raise GradeError(f"unpacks to more than {MAX_ZIP_BYTES >> 20} MB")
            written = 0
            for m in members:
                kind = stat.S_IFMT(m.external_attr >> 16)  # 0 when the archiver stored no type
                if m.is_dir() or (kind and kind != stat.S_IFREG):
                    continue
                parts = [p for p in m.filename.replace("\\", "/").split("/") if p not in ("", ".")]
                if not parts or ".." in parts or m.filename.startswith(("/", "\\")) or ":" in parts[0]:
                    continue
                if m.flag_bits & 0x1:
                    raise GradeError(f"{m.filename}: encrypted zip members cannot be graded")
                target = root.joinpath(*parts)
                if not target.resolve().is_relative_to(root) or target.resolve() == root:
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(m) as src, open(target, "xb") as dst:
                    while chunk := src.read(1 << 20):
                        written += len(chunk)
                        if written > MAX_ZIP_BYTES:
                            raise GradeError(f"unpacks to more than {MAX_ZIP_BYTES >> 20} MB")
                        dst.write(chunk)
    except GradeError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, RuntimeError,
            NotImplementedError, ValueError) as exc:
        raise GradeError(f"cannot unpack the zip: {exc}")
    folder = into
    while True:
        entries = [p for p in folder.iterdir() if not p.name.startswith(("__MACOSX", "."))]
        if len(entries) == 1 and entries[0].is_dir():
            folder = entries[0]
        else:
            return folder


def syntax_errors(folder: Path) -> list:
    """One line per submission file that does not compile (nothing is executed; links, FIFOs
    and devices are never read)."""
    errors = []
    try:
        files = submission_files(Path(folder))
    except SubmissionError:
        return errors
    for rel, source in sorted(files.items()):
        try:
            compile(source, rel, "exec")
        except SyntaxError as exc:
            errors.append(f"{rel}:{exc.lineno}: SyntaxError: {exc.msg}")
        except ValueError as exc:
            errors.append(f"{rel}: {exc}")
    return errors


EMPTY = "nothing to grade: no .py file and no weights file in the submission"


def gradable(folder: Path, assignment: str) -> bool:
    """Whether the folder holds any file grading reads (a `.py` file or a declared data file)."""
    try:
        return bool(submission_files(Path(folder), data_files(assignment)))
    except SubmissionError as exc:
        raise GradeError(str(exc))


def content_hash(folder: Path, assignment: str) -> str:
    """sha256 over the files grading reads (names and bytes): a changed resubmission differs."""
    digest = hashlib.sha256()
    for name, data in sorted(submission_files(Path(folder), data_files(assignment)).items()):
        digest.update(name.encode() + b"\0" + len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()


def missing_modules(assignment, folder: Path, selected) -> dict:
    """{"layers.py": number of selected items that need it} for student modules not in `folder`."""
    out = {}
    try:
        present = set(submission_files(assignment_folder(Path(folder), assignment)))
    except GradeError:  # ambiguous: said once, as the submission's error
        return out
    except SubmissionError:
        present = set()
    for item in selected:
        module = getattr(item, "module", "")
        if module and not getattr(item, "trusted", False) and f"{module}.py" not in present:
            out[f"{module}.py"] = out.get(f"{module}.py", 0) + 1
    return out
