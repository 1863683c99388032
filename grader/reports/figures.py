"""Figures an item adds to a student's feedback: learned weights, reconstructions, statistics.

An item attaches a `Figure` to one of its `CheckResult`s. It is drawn in the trusted process
from arrays the parent has already validated, and only when feedback is written: `dlgrade
grade -o OUTDIR` saves it as `OUTDIR/<id>/<name>`, `dlgrade check` as `feedback/<name>` in the
student's folder. A figure never shows a hidden case's inputs or expected values; a figure
that fails to draw costs no points (the feedback says it could not be drawn).

Every figure of the grader is drawn under `pyplot()`: text is never interpreted (no mathtext,
no LaTeX), so a submission's name or anything else it chose is shown as written; `plain`
bounds such text before it reaches a figure.
"""
import contextlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


_DRAWING = threading.RLock()  # pyplot is not thread-safe: one figure at a time


@contextlib.contextmanager
def pyplot():
    """matplotlib.pyplot with the Agg backend and settings that never interpret text: `$\\cmd$`
    in a title is those characters, not mathtext (which raises on unknown commands), and LaTeX
    is off. Set for the whole process (the grader wants neither anywhere), one figure at a time."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    with _DRAWING:
        matplotlib.rcParams.update({"text.parse_math": False, "text.usetex": False})
        yield plt


def plain(text, limit=80) -> str:
    """`text` as a figure shows it: control characters replaced, at most `limit` characters."""
    text = "".join(c if c.isprintable() else "?" for c in str(text))
    return text if len(text) <= limit else text[:limit - 1] + "…"


@dataclass(frozen=True)
class Figure:
    name: str              # file name, e.g. "linear.softmax.templates.png"
    caption: str           # one line for feedback.txt
    draw: Callable         # draw(fig): fill a matplotlib Figure
    size: tuple = (8.0, 4.0)

    def save(self, path) -> Path:
        """Draw into a PNG at `path` (written atomically)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with pyplot() as plt:
            fig = plt.figure(figsize=self.size)
            try:
                self.draw(fig)
                tmp = path.with_name(f".{path.stem}.tmp.png")
                fig.savefig(tmp, dpi=100, bbox_inches="tight")
                os.replace(tmp, path)
            finally:
                plt.close(fig)
        return path


@dataclass(frozen=True)
class DrawnFigure:
    """A figure drawn elsewhere (a cluster worker), kept as its PNG: saved as those bytes."""
    name: str
    caption: str
    png: bytes

    def save(self, path) -> Path:
        from grader import atomic
        return atomic.write(path, self.png, make_parents=True)


def of(item_results) -> list:
    """(item id, Figure) for every figure attached to the checks of `item_results`."""
    return [(i.id, f) for i in item_results for c in (i.checks or ()) for f in getattr(c, "figures", ())]


def save_all(item_results, folder) -> list:
    """Save every figure into `folder`; lines for the feedback ("name: caption" or why not)."""
    lines = []
    for item_id, fig in of(item_results):
        try:
            fig.save(Path(folder) / fig.name)
            lines.append(f"{fig.name}: {fig.caption} ({item_id})")
        except Exception as exc:  # a figure never costs points nor the feedback
            lines.append(f"{fig.name}: could not be drawn ({type(exc).__name__}: {exc})")
    return lines
