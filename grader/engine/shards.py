"""Shards of a class for batch schedulers, and the merge of their output folders.

`dlgrade grade A SUBS... --shard K/N -o OUTDIR_K` grades every N-th submission of a stable
order (the paths as named, sorted), starting at the K-th (K from 0 to N-1: Slurm's
`$SLURM_ARRAY_TASK_ID` with `--array=0-<N-1>`, a Kubernetes Indexed Job's
`$JOB_COMPLETION_INDEX`). Each shard's folder is a class view of its own submissions, with
`shard.json` naming the whole class, and the result records `--resume` reads.

`dlgrade merge OUTDIR... -o MERGED` joins them (`merge`): the shards must come from the same
class, assignment, salt, items and scoring options; a submission no shard has a result for is
pending (the class view marks it so), never a silent 0.

    shard = parse("3/8")                       # Shard(index=3, count=8)
    mine = shard.pick(paths)                   # every 8th path of sorted(paths), from the 4th
    merged = merge([Path("out-0"), ...])       # Merged(assignment, reports, sources, missing)
"""
import json
from dataclasses import dataclass, field
from pathlib import Path

from grader.engine.run import PENDING, RESULTS, restore, write_atomic
from grader.results import GradeError, Report

SHARD_FILE = "shard.json"  # OUTDIR/shard.json: which shard of which class this folder holds


class ShardError(ValueError):
    """Shards that cannot be joined, or a --shard that names none (one line)."""


@dataclass(frozen=True)
class Shard:
    index: int
    count: int

    def __str__(self):
        return f"{self.index}/{self.count}"

    def pick(self, paths) -> list:
        """This shard's paths: every `count`-th of the sorted paths, from the `index`-th. The
        order depends only on the names, so every job of an array picks from the same list."""
        return sorted(str(p) for p in paths)[self.index::self.count]


def parse(text: str) -> Shard:
    """`K/N` with 0 <= K < N, as a Shard; ShardError (one line) otherwise."""
    k, sep, n = str(text).partition("/")
    try:
        shard = Shard(int(k), int(n))
    except ValueError:
        shard = None
    if not sep or shard is None or shard.count < 1 or not 0 <= shard.index < shard.count:
        raise ShardError(f"--shard {text}: expected K/N with N >= 1 and K from 0 to N-1 (e.g. 0/4 ... 3/4)")
    return shard


def describe(outdir: Path, shard: Shard, assignment: str, paths, salt_id: str, folders: dict):
    """Write OUTDIR/shard.json: this shard, the whole class it was picked from, and the class
    view's folder of each of its submissions (`folders`: {path: id}). The class is kept in the
    order given, which the merged class view follows, as one unsharded run would."""
    Path(outdir).mkdir(parents=True, exist_ok=True)
    write_atomic(Path(outdir) / SHARD_FILE, json.dumps(
        {"assignment": assignment, "shard": str(shard), "salt_id": salt_id,
         "class": [str(p) for p in paths], "folders": folders}, indent=1) + "\n")


@dataclass
class Merged:
    """The class joined from shard folders: `reports` in the class's order (pending where no
    shard has a result), `sources[k]` the k-th report's (folder in its shard's class view, result
    record) (None when pending), and one line per missing shard or result in `missing`."""
    assignment: str
    reports: list
    sources: list
    missing: list = field(default_factory=list)


def _read_json(path: Path, what: str) -> dict:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ShardError(f"{path}: cannot read {what} ({type(exc).__name__})") from None
    if not isinstance(value, dict):
        raise ShardError(f"{path}: {what} is not a JSON object")
    return value


def _shard_info(outdir: Path) -> dict:
    if not (outdir / SHARD_FILE).is_file():
        raise ShardError(f"{outdir}: no {SHARD_FILE} (not the output folder of a `dlgrade grade --shard` run)")
    info = _read_json(outdir / SHARD_FILE, SHARD_FILE)
    try:
        shard = parse(info["shard"])
        text = (str(info["assignment"]), str(info["salt_id"]), [str(p) for p in info["class"]])
        folders = {str(p): str(sid) for p, sid in info["folders"].items()}
    except (KeyError, TypeError, AttributeError, ShardError):
        raise ShardError(f"{outdir / SHARD_FILE}: not a shard description") from None
    return {"shard": shard, "assignment": text[0], "salt_id": text[1], "class": text[2], "folders": folders}


def _records(outdir: Path) -> dict:
    """{submission path: (what must agree across shards, report, record file)} of OUTDIR/results/."""
    found = {}
    for path in sorted((outdir / RESULTS).glob("*.json")):
        saved = _read_json(path, "a result record")
        try:
            report = restore(saved)
            key = (tuple(saved["items"]), json.dumps(saved["options"], sort_keys=True), saved["salt_id"])
        except (KeyError, TypeError, ValueError):
            raise ShardError(f"{path}: not a result record") from None
        found[report.submission] = (key, report, path)
    return found


def merge(outdirs) -> Merged:
    """Join shard folders (see the module's docstring); ShardError when they cannot be joined."""
    outdirs = [Path(o) for o in outdirs]
    infos = [_shard_info(o) for o in outdirs]
    first = infos[0]
    for o, info in zip(outdirs, infos):
        for what in ("assignment", "salt_id", "class"):
            if info[what] != first[what]:
                raise ShardError(f"{o}: another {what.replace('_', ' ')} than {outdirs[0]} "
                                 "(shards of one run name the same submissions, assignment and salt)")
        if info["shard"].count != first["shard"].count:
            raise ShardError(f"{o}: shard {info['shard']} is not one of {first['shard'].count}")
    by_index = {}
    for o, info in zip(outdirs, infos):
        if info["shard"].index in by_index:
            raise ShardError(f"{o}: shard {info['shard']} is also {by_index[info['shard'].index]}")
        by_index[info["shard"].index] = o
    count = first["shard"].count
    shard_of = {p: k for k in range(count) for p in Shard(k, count).pick(first["class"])}
    missing = [f"shard {k}/{count} is missing ({sum(v == k for v in shard_of.values())} submissions pending)"
               for k in range(count) if k not in by_index]
    results, keys = {}, set()
    for o, info in zip(outdirs, infos):
        for submission, (key, report, record) in _records(o).items():
            if submission in info["folders"]:  # this shard's own submission, never a stale record
                results[submission] = ((o / _safe_name(info["folders"][submission]), record), report)
                keys.add(key)
    if len(keys) > 1:
        raise ShardError("the shards were graded with different items, options or salts: grade them again alike")
    reports, sources = [], []
    for path in first["class"]:
        folder, report = results.get(path, (None, None))
        if report is None:
            report = Report(first["assignment"], path, [], error=PENDING)
            if shard_of[path] in by_index:
                missing.append(f"{path}: no result in {by_index[shard_of[path]]} (interrupted: --resume that shard)")
        reports.append(report)
        sources.append(folder)
    return Merged(first["assignment"], reports, sources, missing)


def copy_submission(source, folder: Path, results: Path):
    """Copy a shard's files of one submission (`source`: its class-view folder and its result
    record) into the joined view: the regular files of the folder (its figures, which records do
    not keep) into `folder`, the record into `results`. GradeError when a file cannot be written."""
    shard_folder, record = source
    folder.mkdir(parents=True, exist_ok=True)
    try:
        for f in sorted(shard_folder.iterdir()) if shard_folder.is_dir() else []:
            if f.is_file() and not f.is_symlink():
                write_atomic(folder / f.name, f.read_bytes())
        write_atomic(results / record.name, record.read_bytes())
    except OSError as exc:
        raise GradeError(f"cannot copy {shard_folder}: {exc.strerror or exc}") from None


def _safe_name(sid: str) -> str:
    """A class view's folder name read back from shard.json: one name, never a path."""
    if not sid or "/" in sid or "\\" in sid or sid in (".", ".."):
        raise ShardError(f"{SHARD_FILE}: {sid!r} is not a submission folder name")
    return sid
