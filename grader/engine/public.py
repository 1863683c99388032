"""Public cases: the public items' inputs, expected outputs and known-bug outputs, stored in a
released assignment (`public_cases.json` + `public_cases.npz`) by `dlgrade release`, and read
back by `dlgrade check` as its source of expected values (`PublicCases`), which never imports
`reference`.
"""
import json
from pathlib import Path

from grader.engine.registry import items
from grader.items import TrustedItem
from grader.results import GradeError
from grader.sandbox import wire
from grader.sandbox.drivers import indexed
from grader.sandbox.runner import Call

PUBLIC_CASES = "public_cases"  # .npz (arrays) + .json (calls and hints) in a released assignment
SHOW = "show"  # a driver output for figures only: never compared, not stored with the public cases


class PublicCases:
    """Where `dlgrade check` takes expected values from: the cases stored in a released kit, the
    same for everyone (not `per_submission`), for its public items only; a trusted item's model is
    evaluated by the student's own code in a worker; a missing dataset costs the items that need
    it (`missing_data_fails_item`), nothing more."""
    per_submission = False
    missing_data_fails_item = True

    def __init__(self, cases: dict):
        self.cases = cases  # {item_id: (calls, expected, alternatives)}

    @classmethod
    def load(cls, folder: Path) -> "PublicCases":
        return cls(load_public_cases(Path(folder)))

    def __contains__(self, item_id) -> bool:
        return item_id in self.cases

    def covers(self, item) -> bool:
        return item.visibility == "public"

    def compared(self, item, salt):
        """(calls, expected, alternatives, None): stored, whatever the salt; no reference time."""
        calls, expected, alternatives = self.cases[item.id]
        return calls, expected, alternatives, None

    def trusted_outputs(self, calls, in_worker):
        """A trusted item's driver outputs: the student's own layers', in a worker."""
        return in_worker(calls)


def save_public_cases(assignment: str, folder: Path, salt: str = "public"):
    """Write the public items' inputs, expected outputs and bug outputs into a released kit."""
    from grader.engine.oracle import reference_cases  # the instructor's side only
    meta, arrays = {}, {}
    for item in items(assignment):
        if item.visibility != "public" or isinstance(item, TrustedItem):
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

