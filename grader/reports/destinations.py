"""Where a command's outputs go, checked before any work: an output folder (one that exists, or a
new one in a folder that exists) or an output file, writable. A problem is a `DestinationError`
with one line, which the CLI prints as a usage error (exit 2)."""
import tempfile
from pathlib import Path


class DestinationError(ValueError):
    """An output path that cannot be written (one line)."""


def outdir_mode(output, resume) -> bool:
    """Whether `-o OUTPUT` names a folder (the class view) rather than one result file."""
    return bool(output) and (resume or output.endswith(("/", "\\")) or Path(output).is_dir()
                             or not Path(output).suffix)


def check_output(output, resume):
    """`dlgrade grade`'s -o (a folder or a file) and --resume (which needs a folder)."""
    if resume and not output:
        raise DestinationError("--resume needs -o OUTDIR")
    if not output:
        return
    if outdir_mode(output, resume):
        check_out_folder("-o", output)
    else:
        check_out_file("-o", output)


def check_out_folder(option, value):
    """An output folder: one that exists, or a new one in a folder that exists; writable."""
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise DestinationError(f"{option} {value}: not a folder")
    if not path.exists() and not path.parent.is_dir():
        raise DestinationError(f"{option} {value}: folder {path.parent} does not exist")
    _check_writable(option, value, path if path.exists() else path.parent)


def check_out_file(option, value):
    """An output file in a folder that exists and is writable; not a link, not a folder."""
    path = Path(value)
    if not path.parent.is_dir():
        raise DestinationError(f"{option} {value}: folder {path.parent} does not exist")
    if path.is_symlink():
        raise DestinationError(f"{option} {value}: is a symbolic link")
    if path.is_dir():
        raise DestinationError(f"{option} {value}: is a folder")
    _check_writable(option, value, path.parent)


def check_out_path(option, value, suffix):
    """--kit/--gradescope: a `suffix` file path, or a folder (that exists, or a new one in a
    folder that exists) to put it in."""
    if Path(value).suffix == suffix:
        check_out_file(option, value)
    else:
        check_out_folder(option, value)


def _check_writable(option, value, folder):
    try:  # a real write: permission bits say nothing for root, nor of a read-only mount
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise DestinationError(f"{option} {value}: cannot write in {folder} ({exc.strerror or exc})")
