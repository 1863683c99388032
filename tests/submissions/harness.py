"""Build planted-bug and adversarial submissions from the answer key.

A submission file (``tests/submissions/<assignment>/{bugs,adversarial,speed}/<name>.py``) is a
short Python snippet with a header::

    \"\"\"One-line description of the bug.\"\"\"
    # file: layers.py                    (the solution module the snippet is appended to)
    # affects: mlp.linear.backward       (comma-separated item ids that must lose points)
    # status: timeout                    (optional: the status of every affected item)

Optional headers: ``# file: *`` appends the snippet to every module of the answer key;
``# include: shared/do_nothing.py`` puts that file (under ``tests/submissions/``) before the
snippet; ``# affects: *`` names every item the tests grade; ``# score: 0`` says the affected items
must score exactly 0, not only lose points; ``# status:`` is the status every affected item must
have. ``# clause:`` names the contract clauses (``docs/clauses.md``) the bug breaks.

Speed submissions (``speed/``) also state the credit they expect on the assignment's speed items
(`grader.items.SpeedItem`), as one of ``zero`` (score 0), ``partial`` (0 < score < max) or
``full`` (score == max)::

    # speed: zero                        (every speed item)
    # speed.backward: partial            (the speed items whose id ends in ".backward")

A ``# speed.<suffix>:`` line overrides ``# speed:`` for the speed items whose id ends in
``.<suffix>`` (``cnn.conv.speed.backward`` matches ``backward``, ``speed.backward`` and
``conv.speed.backward``); every speed item must end up with an expectation (`speed_bands`).
Their ``# affects:`` lists the correctness items that must lose points (usually none).

`build` copies every ``*.py`` of ``solutions/<assignment>`` into a folder and appends the snippet
to the named file, so the snippet can use that module's imports, classes and helpers (typically
it replaces a method: ``Linear.backward = _backward``).

`dependent_items` names the items whose worker can import the modified file: a worker imports
only the module its item exercises (and what that module imports), so the other items run
byte-for-byte the answer key's code and score what the answer key scores. The tests grade each
submission on its dependent items only, which keeps them fast; set ``DLGRADE_TEST_ALL_ITEMS=1``
to grade every item of every submission instead.
"""
import ast
import os
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
ALL_ITEMS_ENV = "DLGRADE_TEST_ALL_ITEMS"

# The module each item's worker imports, by item id prefix, first match wins (LayerItem.module
# is "layers"; Dropout, BatchNorm1d and Sequential are layers too; the initialisation study runs
# the student's initialiser through their Linear and Tanh, so it imports both; every `cnn` item but the
# trusted accuracy item, which the tests leave out, exercises `conv`: Conv2d, the pooling layers,
# BatchNorm2d and the Conv2d speed items).
ITEM_MODULES = (("mlp.loss.", "losses"), ("mlp.optim.", "optim"), ("mlp.init.study", ("init", "layers")),
                ("mlp.init.", "init"), ("mlp.", "layers"),
                ("cnn.", "conv"), ("rnn.clip_grad_norm", "text"), ("rnn.sample_next", "text"),
                ("rnn.word2vec.", "word2vec"), ("rnn.", "rnn"))
SPEED_BANDS = ("zero", "partial", "full")


@dataclass(frozen=True)
class Planted:
    name: str
    path: Path
    doc: str
    file: str
    affects: tuple
    status: str
    text: str
    speed: tuple = ()  # ((suffix, band), ...) from "# speed:" ("" suffix) and "# speed.<suffix>:" lines
    score: str = ""    # "0": every affected item must score exactly 0
    clauses: tuple = ()  # contract clause ids from "# clause:"

    def affected(self, item_ids):
        """The item ids this submission must cost points (`# affects: *` is every one)."""
        return tuple(item_ids) if self.affects == ("*",) else self.affects


def _header(text, key):
    m = re.search(rf"^# {re.escape(key)}:(.*)$", text, re.MULTILINE)
    return m.group(1).strip() if m else ""


def _speed_headers(text):
    return tuple((suffix or "", band.strip())
                 for suffix, band in re.findall(r"^# speed(?:\.([\w.]+))?:(.*)$", text, re.MULTILINE))


def load(kind, assignment="mlp"):
    """Every submission snippet of `kind` ("bugs", "adversarial" or "speed"), sorted by name."""
    out = []
    for path in sorted((HERE / assignment / kind).glob("*.py")):
        text = path.read_text()
        doc = ast.get_docstring(ast.parse(text)) or ""
        affects = tuple(a.strip() for a in _header(text, "affects").split(",") if a.strip())
        include = _header(text, "include")
        if include:
            text = (HERE / include).read_text() + "\n\n" + text
        clauses = tuple(c.strip() for c in _header(text, "clause").split(",") if c.strip())
        out.append(Planted(path.stem, path, doc, _header(text, "file"), affects, _header(text, "status"), text,
                           _speed_headers(text), _header(text, "score"), clauses))
    return out


def speed_bands(planted, speed_item_ids):
    """{item id: "zero" | "partial" | "full"} for every speed item, from `planted`'s speed headers.

    Raises ValueError for an unknown band, a suffix that matches no speed item, or a speed item
    left without an expectation."""
    out = {}
    for suffix, band in sorted(planted.speed, key=lambda sb: len(sb[0])):  # "# speed:" first
        if band not in SPEED_BANDS:
            raise ValueError(f"{planted.path}: '# speed{'.' + suffix if suffix else ''}: {band}' "
                             f"is not one of {', '.join(SPEED_BANDS)}")
        matched = [i for i in speed_item_ids if not suffix or i.endswith("." + suffix)]
        if not matched:
            raise ValueError(f"{planted.path}: '# speed.{suffix}:' matches no speed item of {list(speed_item_ids)}")
        out.update(dict.fromkeys(matched, band))
    missing = [i for i in speed_item_ids if i not in out]
    if missing:
        raise ValueError(f"{planted.path}: no '# speed:' expectation for {missing}")
    return {i: out[i] for i in speed_item_ids}


def in_band(band, score, max_score):
    return {"zero": score == 0, "partial": 0 < score < max_score, "full": score == max_score}[band]


def solution_dir(assignment="mlp"):
    return ROOT / "solutions" / assignment


def copy_solution(dest, assignment="mlp"):
    """The answer key's .py files in `dest` (a fresh folder), as regular files: a symlink in the
    answer key (``solutions/cnn/layers.py -> ../mlp/layers.py``) is copied as its target's
    contents, so appending a snippet never writes through it into another assignment."""
    dest = Path(dest)
    dest.mkdir(parents=True)
    for src in sorted(solution_dir(assignment).glob("*.py")):
        (dest / src.name).write_bytes(src.resolve().read_bytes())
    return dest


def build(planted, dest, assignment="mlp"):
    """The answer key with `planted`'s snippet appended to its target file (every module for
    ``# file: *``)."""
    dest = copy_solution(dest, assignment)
    targets = sorted(dest.glob("*.py")) if planted.file == "*" else [dest / planted.file]
    if not planted.file or not all(t.is_file() for t in targets):
        raise ValueError(f"{planted.path}: '# file: {planted.file}' is not a module of solutions/{assignment}")
    for target in targets:
        with open(target, "a") as f:
            f.write("\n\n# ---- planted: " + planted.name + "\n" + planted.text)
    return dest


def _imports(assignment="mlp"):
    """{module: set of sibling modules it imports, transitively, itself included}."""
    folder = solution_dir(assignment)
    names = {p.stem for p in folder.glob("*.py")}
    direct = {}
    for p in folder.glob("*.py"):
        found = set()
        for node in ast.walk(ast.parse(p.resolve().read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                if node.module:
                    found.add(node.module.split(".")[0])
                if node.level:  # from . import init
                    found |= {a.name for a in node.names}
        direct[p.stem] = found & names
    closure = {}
    for name in direct:
        seen, todo = set(), [name]
        while todo:
            m = todo.pop()
            if m not in seen:
                seen.add(m)
                todo.extend(direct.get(m, ()))
        closure[name] = seen
    return closure


def item_modules(item_id):
    """The student modules an item's worker imports directly: from `ITEM_MODULES`, else (an
    assignment added as files only) the item's own `module`."""
    found = next((module for prefix, module in ITEM_MODULES if item_id.startswith(prefix)), None)
    if found is None:
        from grader import engine
        found = next(i.module for i in engine.items(item_id.split(".")[0]) if i.id == item_id)
    return (found,) if isinstance(found, str) else tuple(found)


def dependent_items(item_ids, files, assignment="mlp"):
    """The items (in `item_ids` order) whose worker imports any of `files` ("layers.py", ...)."""
    if os.environ.get(ALL_ITEMS_ENV):
        return list(item_ids)
    if "*" in files:
        return list(item_ids)
    closure = _imports(assignment)
    stems = {Path(f).stem for f in files}
    return [i for i in item_ids if any(closure.get(m, {m}) & stems for m in item_modules(i))]


# --------------------------------------------------------------------------- timing-dependent items
TIMING_RETRIES = 2  # extra gradings of a speed item whose timing verdict is not the expected one


def timing_items(assignment):
    """The ids of the assignment's items whose score depends on a timing (`SpeedItem`)."""
    from grader import engine
    from grader.items import SpeedItem
    return [i.id for i in engine.items(assignment) if isinstance(i, SpeedItem)]


def timing_verdict(result):
    """Whether a speed item's `ItemResult` came from timings (the probe or the timed runs), not
    from a wrong result, a crash or a timeout: only such a verdict can change on a re-grade."""
    return (result.status in ("passed", "partial", "failed")
            and "no speed credit for a wrong result" not in result.output)


def regrade_timing(assignment, folder, result, wanted, *, opts=None, retries=TIMING_RETRIES):
    """(final result, [earlier results]): `result`, an `ItemResult` of a speed item, kept when
    `wanted(result)`; else, when its verdict came from timings, the same item graded again, up to
    `retries` more times, until `wanted`. A busy machine can preempt a single timed run; the
    tests report every re-grade (a warning), `benchmarks/speed_credit.py` measures how often."""
    from grader import engine
    earlier = []
    while not wanted(result) and timing_verdict(result) and len(earlier) < retries:
        earlier.append(result)
        result = engine.grade_many(assignment, [folder], opts=opts, jobs=1, only=[result.id])[0].items[0]
    return result, earlier


# --------------------------------------------------------------------------- seed invariance
def seed_scores(assignment, root, salts, *, scope="affected", jobs=2):
    """{(submission, item id): [score per salt]} for the answer key (every item) and every planted
    bug of `assignment` (its affected items, or with ``scope="dependent"`` every item that imports
    the file it changes), graded once per salt. Timed and trusted items are left out: their
    verdicts do not come from seeded cases."""
    from collections import defaultdict

    from grader import engine
    from grader.items import TrustedItem
    skip = set(timing_items(assignment)) | {i.id for i in engine.items(assignment) if isinstance(i, TrustedItem)}
    item_ids = [i.id for i in engine.items(assignment) if i.id not in skip]
    root = Path(root)
    folders = {"__solution__": copy_solution(root / "__solution__", assignment)}
    groups = defaultdict(list)
    groups[tuple(item_ids)].append("__solution__")
    for bug in load("bugs", assignment):
        folders[bug.name] = build(bug, root / bug.name, assignment)
        chosen = dependent_items(item_ids, [bug.file], assignment) if scope == "dependent" \
            else [i for i in item_ids if i in bug.affected(item_ids)]
        groups[tuple(chosen)].append(bug.name)
    scores = defaultdict(list)
    for salt in salts:
        opts = engine.Options(salt=salt)
        for only, names in groups.items():
            for name, report in zip(names, engine.grade_many(assignment, [folders[n] for n in names], opts=opts,
                                                         jobs=jobs, only=list(only))):
                for item in report.items:
                    scores[(name, item.id)].append(item.score)
    return dict(scores)


def seed_dependent(scores):
    """The (submission, item id) pairs whose score is not the same for every salt."""
    return {key: values for key, values in scores.items() if len(set(values)) > 1}
