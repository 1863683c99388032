"""The instructor's review commands: `similarity` (never in a kit's tool: its wheel does not hold
this module). Reviews read submissions and write reports beside the class view; they never run
student code and never change a score."""
import os
import tempfile
from pathlib import Path

import click

from grader.cli.base import BadUsage, Failure, assignment_arg, main
from grader.reports import destinations
from grader.reports import similarity
from grader.reports.report import shown


@main.command("similarity")
@assignment_arg
@click.argument("submissions", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(),
              help="The folder for similarity.csv, similarity.json and similarity.html (the class view's "
                   "folder of `dlgrade grade -o` gets a Similarity section in its summary.html).")
@click.option("--threshold", type=click.FloatRange(0, 1), default=similarity.THRESHOLD, show_default=True,
              help="Flag a pair when either side's overlap (the share of its own code found in the "
                   "other's) is at least this.")
@click.option("--min-tokens", type=click.IntRange(min=0), default=similarity.MIN_TOKENS, show_default=True,
              help="... and the match holds at least this many normalised characters.")
def similarity_cmd(assignment, submissions, output, threshold, min_tokens):
    """Compare the code of SUBMISSIONS (folders or .zip files) pairwise, the released stubs and
    given code as boilerplate; list the pairs that share the most code. Never changes a score.

    \b
    Examples:
      dlgrade similarity linear subs/*.zip -o results
      dlgrade similarity linear subs/*.zip -o review --threshold 0 --min-tokens 0   every pair

    \b
    Exit status: 0 written (flagged pairs or not); 1 a write failed; 2 a usage error (copydetect
    missing, a missing submission, fewer than two comparable submissions, an unusable -o),
    before anything is written.
    """
    try:
        similarity.require()
    except similarity.SimilarityError as exc:
        raise BadUsage(str(exc))
    try:
        destinations.check_out_folder("-o", output)
    except destinations.DestinationError as exc:
        raise BadUsage(str(exc))
    for path in submissions:
        if not os.path.lexists(path):
            raise BadUsage(f"{shown(path)}: no such file or folder")
    try:
        kit = similarity.kit_code(assignment)
    except similarity.SimilarityError as exc:
        raise BadUsage(str(exc))
    with tempfile.TemporaryDirectory(prefix="dlgrade-similarity-") as workdir:
        subs = similarity.read_submissions(assignment, list(submissions), kit.modules, workdir)
        readable = [s for s in subs if not s.error]
        if len(readable) < 2:
            raise BadUsage(f"{len(readable)} of {len(subs)} submissions can be compared; similarity needs two "
                           f"or more" + "".join(f"; {shown(s.path)}: {shown(s.error)}" for s in subs if s.error))
        for s in subs:
            if s.error:
                click.echo(f"warning: {shown(s.path)}: not compared: {shown(s.error)}", err=True)
        result = similarity.compare(subs, kit, threshold=threshold, min_tokens=min_tokens)
    try:
        page = similarity.write(result, Path(output))
    except OSError as exc:
        raise Failure(f"cannot write in {output}: {exc.strerror or exc}")
    for p in result.pairs:
        click.echo(f"{shown(p.a)}  {shown(p.b)}  {p.overlap_a:.0%}  {p.overlap_b:.0%}  {p.tokens}")
    click.echo(f"{len(result.pairs)} of {result.compared} pairs flagged (threshold {threshold:g}, "
               f"at least {min_tokens} normalised characters): {page}", err=True)
