"""The two item protocols: an item compared with the reference in a worker (`ComparedItem`) and an
item evaluated from submitted weights in the trusted process (`TrustedItem`).

Every item has an id, points, a visibility, a time floor and the plain attributes the engine reads
(`module`, `exclusive`, `files`); the engine tells the two kinds apart with `isinstance`, never by
probing attributes. Items own points; checks (`grader.items.checks`) do not.
"""
from dataclasses import dataclass

TIMEOUT_FACTOR = 50.0  # an item's limit: this many times the reference's time on its calls (`Item.time_limit`)


@dataclass(frozen=True)
class Mutant:
    """A known bug: classes that replace reference ones, and the hint to show on a match.

    `replace` maps a reference name to `"solutions/<a>/mutants.py:Name"` (or `"module:Name"`)."""
    hint: str
    replace: dict  # name -> class path


@dataclass(frozen=True)
class Item:
    """What every graded item has. `module`: the student module its worker imports ("" when none);
    `exclusive`: timed, so it runs alone; `files`: data files of the submission the worker needs
    besides its .py files."""
    id: str
    points: float
    visibility: str = "public"
    timeout: float = 30.0
    files: tuple = ()
    module: str = ""
    exclusive: bool = False

    def time_limit(self, reference_s: float) -> float:
        """The item's wall-clock limit when the reference ran its calls in `reference_s` seconds:
        `TIMEOUT_FACTOR` times that, never below `timeout` (the floor, which covers a worker's
        start). A correct implementation with loops the contract allows is far inside it; an
        infinite loop is not."""
        return max(self.timeout, TIMEOUT_FACTOR * max(float(reference_s), 0.0))


@dataclass(frozen=True)
class ComparedItem(Item):
    """Compared with the reference: the engine runs `calls(rng)` on the student's code in a worker
    and (when `needs_reference`) on the reference and on each known bug (`mutants`) in the trusted
    parent; `evaluate` turns them into `CheckResult`s."""
    mutants: tuple = ()
    needs_reference: bool = True  # False for items checked by behaviour alone

    def calls(self, rng) -> list:
        """The worker calls (`grader.items.Call`) of one grading, drawn from `rng`."""
        raise NotImplementedError

    def evaluate(self, calls, got, expected, alternatives) -> list:
        """`got`/`expected`: per call, nested dicts of arrays; `alternatives`: [(hint, expected)]."""
        raise NotImplementedError


@dataclass(frozen=True)
class TrustedItem(Item):
    """Evaluated in the trusted process from the submitted weights file `weights`: `check_arch`
    refuses an architecture, `test_set()` loads the held-out data, `calls_for` builds the calls the
    reference layers run on it, `evaluate_outputs` turns their outputs into `CheckResult`s."""
    weights: str = ""
    layers: tuple = ()  # the layer types the weights may name (`check_arch` refuses the others)

    def check_arch(self, arch):
        raise NotImplementedError

    def test_set(self, *, download: bool = True):
        """The held-out data; `download=False` (`dlgrade check`) raises `DataError` for a dataset
        not on this machine instead of downloading it."""
        raise NotImplementedError

    def calls_for(self, arch, weights, meta, data) -> list:
        raise NotImplementedError

    def evaluate_outputs(self, outputs, meta, data) -> list:
        raise NotImplementedError
