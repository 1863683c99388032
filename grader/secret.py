"""The course secret that salts hidden cases, so no one can draw them from the public code.

`dlgrade grade` derives the salt of a run from the course secret and `--seed`:
`salt = HMAC-SHA256(secret, seed)`. The secret is `$DLGRADE_SECRET`, else the contents of the
file `$DLGRADE_SECRET_FILE`, else `~/.config/dlgrade/course_secret`, which is created (mode
0600, 32 random bytes in hex) on first use. Keep that file and never release it: the same
secret and seed reproduce a run's cases exactly. A run records only `salt_id`, a fingerprint of
its salt that tells whether two runs drew the same cases.
"""
import hashlib
import hmac
import os
import secrets
from pathlib import Path

SECRET_ENV = "DLGRADE_SECRET"
SECRET_FILE_ENV = "DLGRADE_SECRET_FILE"


class SecretError(Exception):
    """The course secret cannot be read or created (one line)."""


def secret_path() -> Path:
    if os.environ.get(SECRET_FILE_ENV):
        return Path(os.environ[SECRET_FILE_ENV])
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config / "dlgrade" / "course_secret"


def course_secret() -> str:
    """The course secret, created on first use."""
    if os.environ.get(SECRET_ENV):
        return os.environ[SECRET_ENV]
    path = secret_path()
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
            try:
                os.link(tmp, path)  # atomic: never a half-written secret, never two
            except FileExistsError:  # another grader created it just now
                pass
            finally:
                tmp.unlink()
        text = path.read_text().strip()
    except OSError as exc:
        raise SecretError(f"course secret {path}: {exc.strerror or exc}")
    if len(text) < 16:
        raise SecretError(f"course secret {path}: shorter than 16 characters")
    return text


def run_salt(seed: str, secret: str = None):
    """(salt, salt_id) of a grading run with this `--seed`."""
    secret = course_secret() if secret is None else secret
    salt = hmac.new(secret.encode(), seed.encode(), hashlib.sha256).hexdigest()
    return salt, hashlib.sha256(salt.encode()).hexdigest()[:12]
