"""Run drivers on student code in an isolated worker process (the trusted side of the boundary).

Each call to `run_worker` copies the submission's Python files into a fresh temporary folder,
starts `python -I grader/worker.py` there in its own process group with a scrubbed environment
and resource limits, kills the whole group on timeout, and reads back only `.npz` arrays
(`allow_pickle=False`) and a small JSON status.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import wire

WORKER = Path(__file__).with_name("worker.py")
STDOUT_TAIL = 2000  # characters of student output kept for feedback


@dataclass(frozen=True)
class Limits:
    """Resource limits of one worker process."""
    timeout_s: float = 30.0
    memory_mb: int = 4096
    file_mb: int = 64
    threads: int = 1

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


def _copy_sources(src: Path, dst: Path, extra=()):
    """Copy the submission's .py files (and the named extra files) into `dst`."""
    for path in src.rglob("*.py"):
        rel = path.relative_to(src)
        if "__pycache__" in rel.parts or any(p.startswith(".") for p in rel.parts):
            continue
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dst / rel)
    for name in extra:
        if (src / name).is_file():
            shutil.copyfile(src / name, dst / name)


def _env(home: Path, limits: Limits, device: str):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "MPLBACKEND": "Agg",
    }
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(limits.threads)
    if device == "cuda" and "CUDA_VISIBLE_DEVICES" in os.environ:
        env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
    return env


def run_worker(submission: Path, calls: list, limits: Limits = Limits(), *, extra_files=(),
               device: str = "cpu") -> WorkerResult:
    """Run `calls` on the student code in `submission` and return the validated outputs."""
    with tempfile.TemporaryDirectory(prefix="dlgrade-") as tmp:
        io_dir, sub_dir = Path(tmp, "io"), Path(tmp, "sub")
        io_dir.mkdir()
        sub_dir.mkdir()
        _copy_sources(Path(submission), sub_dir, extra_files)
        request = {"calls": [{"driver": c.driver, "spec": c.spec} for c in calls],
                   "device": device,
                   "limits": {"memory_mb": limits.memory_mb, "cpu_s": limits.cpu_s,
                              "file_mb": limits.file_mb}}
        (io_dir / "request.json").write_text(json.dumps(request))
        wire.save(io_dir / "inputs.npz", {str(i): c.inputs for i, c in enumerate(calls)})
        with open(io_dir / "stdout.txt", "wb") as out:
            proc = subprocess.Popen([sys.executable, "-I", str(WORKER), str(io_dir)],
                                    cwd=sub_dir, env=_env(sub_dir, limits, device),
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            try:
                code = proc.wait(timeout=limits.timeout_s)
                timed_out = False
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                _kill_group(proc)
        stdout = _tail(io_dir / "stdout.txt")
        if timed_out:
            return WorkerResult("timeout", message=f"timed out after {limits.timeout_s:g} s "
                                "(an infinite loop, or far too slow)", stdout=stdout)
        return _read_result(io_dir, code, stdout, len(calls))


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _tail(path: Path) -> str:
    size = path.stat().st_size
    with open(path, "rb") as f:
        f.seek(max(0, size - STDOUT_TAIL))
        text = f.read().decode("utf-8", "replace")
    return ("[... output truncated]\n" if size > STDOUT_TAIL else "") + text


def _read_result(io_dir: Path, code: int, stdout: str, n_calls: int) -> WorkerResult:
    result_path = io_dir / "result.json"
    if not result_path.exists():
        how = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
        return WorkerResult("crashed", message=f"the worker {how} before reporting a result "
                            "(sys.exit/os._exit, a crash, or a resource limit)", stdout=stdout)
    try:
        if result_path.stat().st_size > 1 << 20:
            raise ValueError("result.json is too large")
        result = json.loads(result_path.read_text())
        status = result["status"]
        if status not in ("ok", "not_attempted", "error"):
            raise ValueError(f"unknown status {status!r}")
        message = str(result.get("message", ""))
        if result.get("traceback"):
            message += "\n" + str(result["traceback"])
        if status != "ok":
            return WorkerResult(status, message=message, stdout=stdout)
        outputs = wire.load(io_dir / "outputs.npz")
        types = [dict(c.get("types", {})) for c in result["calls"]]
        return WorkerResult("ok", [outputs.get(str(i), {}) for i in range(n_calls)],
                            types, stdout=stdout)
    except (ValueError, KeyError, TypeError, OSError, wire.WireError) as exc:
        return WorkerResult("crashed", message=f"unreadable worker result: {exc}", stdout=stdout)
