"""Run drivers on student code in a sandboxed worker process (the trusted side of the boundary).

Each worker is `python -I -S -B worker.py` inside bubblewrap (`bwrap`): a fresh mount namespace
that holds only the interpreter and its libraries (read-only, with every site-packages folder
hidden), NumPy (read-only), the worker's own three modules (read-only), a read-only copy of the
submission's files and a small private `/tmp`; no network, its own PID, IPC and UTS namespaces,
no capabilities, an unprivileged uid of its own (so `RLIMIT_NPROC` counts only its processes),
and resource limits. It dies with the grader.

The parent sends one request frame (`wire.frame`) on the worker's stdin and reads replies from a
pipe whose write end is the only thing the worker gets besides: nothing the worker reports is
read from a file it could have written. Student output goes to an anonymous temporary file.
`Session` keeps one worker for an exchange of several frames (the speed items time each
exchange here, in the parent, where student code cannot reach the clock).

Where bubblewrap cannot create namespaces (a Docker container without `CAP_SYS_ADMIN`, which is
how Gradescope runs its autograders; see docs/gradescope.md), an autograder may choose the uid
sandbox instead, explicitly, with `DLGRADE_SANDBOX=uid` (never chosen silently): the worker is a
plain process, started as root, that drops for good to an unprivileged uid of its own with the
same resource limits, in a private working folder (the submission copy read-only, its own
temporary folder) and with NumPy reached through a folder of links, not the whole site-packages.
It sees the rest of the filesystem as any other user would, so the course files must be made
unreadable to other users first (`uid_problem` checks that as a worker uid before grading); it
has the network, the shared /tmp and /dev/shm, and sees other processes. After every item and
when it closes, the processes, the top-level files in shared folders and the System V IPC objects
of its uid are removed (`_clean_uid`); items must run one at a time (`-j 1`) for that to keep one
item's files from the next.

Memory: on the CPU the worker's address space is capped (`RLIMIT_AS`). CUDA reserves far more
address space than it uses (unified addressing maps tens of GB at context creation), so with
`device="cuda"` that cap would break CuPy; there the parent watches the resident memory of the
worker's whole process tree instead (anonymous and shared-memory pages from
`/proc/PID/status`, every `RSS_POLL_S`) and kills the worker's process group when it exceeds
`Limits.memory_mb`. An allocation can overshoot by what it writes within one poll.

The pieces, each its own module: `calls` (Limits, Call, WorkerResult), `isolation` (bubblewrap and
the uid sandbox: set-up, problems, clean-up), `intake` (the submission's files, capped),
`session` (one worker process), `pool` (run_worker, pre-started workers). This module gathers
their public names: import them from here.
"""
from grader.sandbox.calls import Call, Limits, WorkerFailure, WorkerResult
from grader.sandbox.intake import (MAX_DEPTH, MAX_FILE, MAX_FILES, MAX_SOURCE, MAX_TOTAL, SubmissionError,
                                   submission_files, write_files)
from grader.sandbox.isolation import (HERE, INSIDE, PACKAGE, SANDBOX_ENV, SANDBOXES, TOP, UID_BASE, UID_SLOTS,
                                      WORKER_FILES, SandboxError, bwrap_path, bwrap_problem, protected_paths,
                                      sandbox_kind, sandbox_problem, uid_problem)
from grader.sandbox.pool import WorkerPool, Zygote, run_worker
from grader.sandbox.session import MAX_REPLY, RSS_POLL_S, STDOUT_TAIL, Session, process_tree, tree_rss

__all__ = ['Call', 'Limits', 'WorkerFailure', 'WorkerResult', 'MAX_DEPTH', 'MAX_FILE', 'MAX_FILES',
           'MAX_SOURCE', 'MAX_TOTAL', 'SubmissionError', 'submission_files', 'write_files', 'HERE',
           'INSIDE', 'PACKAGE', 'SANDBOX_ENV', 'SANDBOXES', 'TOP', 'UID_BASE', 'UID_SLOTS',
           'WORKER_FILES', 'SandboxError', 'bwrap_path', 'bwrap_problem', 'protected_paths',
           'sandbox_kind', 'sandbox_problem', 'uid_problem', 'WorkerPool', 'Zygote', 'run_worker',
           'MAX_REPLY', 'RSS_POLL_S', 'STDOUT_TAIL', 'Session', 'process_tree', 'tree_rss']
