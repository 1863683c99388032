"""What the cells of dlgrade's notebooks call: `score("mlp.linear.forward")` in nbgrader's test
cells; `check("linear.svm.loops")` (`dlgrade check` of one item, inline) and `with experiment():`
in a lesson's cells (docs/lessons.md).

The cell's code runs in a separate worker process, as with `dlgrade check`; this function prints
what passed (`item_text`) and returns the item's score, which is the cell's last expression, so
nbgrader gives partial credit. Warnings and anything written to stderr are sent to stdout while
it runs (any stderr output would make nbgrader give the cell 0). With the reference installed
(the instructor's environment, as under `nbgrader autograde`) the item is graded like `dlgrade
grade`, with the course secret's salt and the sandbox; a hidden item then prints only which of
its checks passed, since the cell's output is the student's feedback. In a student's
environment (the student tool's wheel only) it runs the public cases shipped next to the
notebook, sandboxed where bubblewrap can run, else in a plain worker process (their own code, as
`dlgrade check` does), and a hidden item only says that the instructor grades it.

This runs inside the student's kernel, so a notebook can replace it: use `dlgrade nbgrader
autograde` (which never runs the notebook) when grades matter.
"""
import contextlib
import functools
import importlib.util
import sys
import warnings
from pathlib import Path


def _reference_available() -> bool:
    try:
        return importlib.util.find_spec("reference") is not None
    except (ImportError, ValueError):
        return False


@functools.lru_cache(maxsize=1)
def _sandbox_problem() -> str:
    from grader.sandbox import runner
    return runner.sandbox_problem()


def item_text(result) -> str:
    """What a student may see of one graded item (an `engine.ItemResult`): a line with its status and
    points, then its checks as `dlgrade check` prints them; for a hidden item only which checks
    passed, never its cases, messages or expected values (`grader.reports.feedback.student_view`)."""
    from grader import engine
    from grader.reports import feedback
    view = feedback.student_view(engine.Report(result.id.split(".")[0], "", [result]))
    output = view.items[0].output
    head = f"{result.id}: {result.status.replace('_', ' ')}, {result.score:g} / {result.max_score:g} points"
    return head + ("\n" + output if output else "")


def score(item_id: str, folder: str = ".") -> float:
    """Grade one item on the modules in `folder`; print the checks; return the points earned."""
    import copy

    from grader import engine
    from grader.items import TrustedItem
    assignment = item_id.split(".")[0]
    item = {i.id: i for i in engine.items(assignment)}.get(item_id)
    if item is None:
        raise KeyError(f"no item {item_id!r} in {assignment}")
    with warnings.catch_warnings(), contextlib.redirect_stderr(sys.stdout):
        warnings.simplefilter("ignore")
        if _reference_available():
            from grader import secret
            opts = engine.Options(cases=engine.Oracle(), salt=secret.run_salt("grade")[0])  # as `dlgrade nbgrader autograde`
        else:
            try:
                public = engine.load_public_cases(Path(folder))
            except engine.GradeError as exc:
                print(exc)
                return 0.0
            if item_id not in public and not isinstance(item, TrustedItem):
                print(f"{item_id} is graded by your instructor")
                return 0.0
            opts = engine.Options(cases=engine.PublicCases(public), sandbox=not _sandbox_problem(), download=False)
        result = engine.grade_item(item, Path(folder), opts)
    print(item_text(copy.deepcopy(result)))
    return result.score


def check(item_id: str, folder: str = ".") -> None:
    """What a lesson's check cell calls right after an implementation: `dlgrade check` on one item,
    inline. Always the public cases shipped next to the notebook (never the reference, even where
    it is installed), sandboxed where bubblewrap can run; prints the item's status and checks,
    with the feedback that names the bug; a hidden item only says the instructor grades it.
    Returns nothing, so the cell shows only what it printed."""
    import copy

    from grader import engine
    from grader.items import TrustedItem
    assignment = item_id.split(".")[0]
    item = {i.id: i for i in engine.items(assignment)}.get(item_id)
    if item is None:
        print(f"error: no item {item_id!r} in {assignment}")
        return
    with warnings.catch_warnings(), contextlib.redirect_stderr(sys.stdout):
        warnings.simplefilter("ignore")
        try:
            public = engine.load_public_cases(Path(folder))
        except engine.GradeError as exc:
            print(f"error: {exc}")
            return
        if item_id not in public and not isinstance(item, TrustedItem):
            print(f"{item_id}: graded by your instructor, with cases you do not see")
            return
        opts = engine.Options(cases=engine.PublicCases(public), sandbox=not _sandbox_problem(), download=False)
        result = engine.grade_item(item, Path(folder), opts)
    print(item_text(copy.deepcopy(result)))


@contextlib.contextmanager
def experiment():
    """A lesson's experiment cell runs its code inside `with experiment():`. While a function it
    calls still raises NotImplementedError (the stub), the cell prints one line naming it instead
    of a traceback; every other error shows as usual (it is a bug to look at)."""
    import traceback
    try:
        yield
    except NotImplementedError as exc:
        frames = traceback.extract_tb(exc.__traceback__)
        where = frames[-1] if frames else None
        what = f"`{where.name}` in {Path(where.filename).name}" if where else "a function"
        if "matplotlib.pyplot" in sys.modules:  # the cell's figures are half drawn: not shown
            sys.modules["matplotlib.pyplot"].close("all")
        print(f"not attempted yet: {what} raises NotImplementedError; implement it, then run this cell again")
