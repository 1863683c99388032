"""What a worker is asked and what comes back: the resource limits of one worker process
(`Limits`), one driver invocation (`Call`), the validated reply (`WorkerResult`) and how a
worker's failure is told (`WorkerFailure`). Nothing here starts a process."""
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Limits:
    """Resource limits of one worker process."""
    timeout_s: float = 30.0
    memory_mb: int = 4096  # RLIMIT_AS on the CPU; resident memory (parent's watchdog) with CUDA
    file_mb: int = 64
    threads: int = 1
    processes: int = 64     # RLIMIT_NPROC (threads count too), enforced per worker uid
    open_files: int = 256
    tmp_mb: int = 64        # the private /tmp

    @property
    def cpu_s(self) -> int:
        return int(self.timeout_s * max(1, self.threads)) + 5


@dataclass(frozen=True)
class Call:
    """One driver invocation: `drivers.DRIVERS[driver](resolve, spec, inputs)`."""
    driver: str
    spec: dict
    inputs: dict


@dataclass
class WorkerResult:
    """What came back from a worker. `status`: ok, not_attempted, error, timeout or crashed."""
    status: str
    outputs: list = field(default_factory=list)   # one nested dict of arrays per call
    types: list = field(default_factory=list)     # per call: {key: type name} of non-ndarray returns
    message: str = ""
    stdout: str = ""



class WorkerFailure(Exception):
    """The worker died, timed out or broke the protocol."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message



def how(code):
    if code is None:
        return "did not exit"
    return f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"



def exit_code(header):
    try:
        return int(header.get("code"))
    except (TypeError, ValueError):
        return None



def parse_reply(result: dict, outputs: dict, n_calls: int, stdout: str) -> WorkerResult:
    try:
        status = result["status"]
        if status not in ("ok", "not_attempted", "error"):
            raise ValueError(f"unknown status {status!r}")
        message = str(result.get("message", ""))[:2000]
        if result.get("traceback"):
            message += "\n" + str(result["traceback"])[:2000]
        if status != "ok":
            return WorkerResult(status, message=message, stdout=stdout)
        calls = result["calls"]
        if not isinstance(calls, list) or len(calls) != n_calls:
            raise ValueError("the reply does not match the request")
        types = [{str(k): str(v) for k, v in dict(c.get("types", {})).items()} for c in calls]
        return WorkerResult("ok", [outputs.get(str(i), {}) for i in range(n_calls)], types, stdout=stdout)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return WorkerResult("crashed", message=f"unreadable worker result: {exc}", stdout=stdout)

