"""Running calls on a submission: one worker per run (`run_worker`), or pre-started workers
per submission (`Zygote`, shared by the grading threads through `WorkerPool`) that fork a fresh
child per item."""
import os
import threading
import time
from pathlib import Path

from grader.sandbox import course_drivers, wire
from grader.sandbox.calls import Limits, WorkerFailure, WorkerResult, exit_code, how, parse_reply
from grader.sandbox.session import STDOUT_TAIL, Session


class Zygote:
    """A pre-started worker for one submission: NumPy imported, sandbox up, no student code.
    `run` forks a fresh child per item that imports the student's modules and runs the calls
    under the item's limits; afterwards the worker kills everything the child left running and
    empties the private /tmp. One item at a time; after a timeout or a crash it is discarded."""

    def __init__(self, submission, *, extra_files=(), device="cpu", sandbox=True):
        self.session = Session(submission, Limits(timeout_s=60), extra_files=extra_files, device=device,
                               sandbox=sandbox, zygote=True)
        self.ok = True

    def run(self, calls, limits: Limits) -> WorkerResult:
        course = course_drivers.frame(calls)  # before anything is sent: a driver nobody defines raises
        s = self.session
        s.limits, s.deadline = limits, time.monotonic() + limits.timeout_s
        s._out.seek(0, os.SEEK_END)
        mark = s._out.tell()
        try:
            s._send(wire.frame({"op": "fork", "cpu_s": limits.cpu_s, "processes": limits.processes,
                                "calls": [{"driver": c.driver, "spec": c.spec} for c in calls], **course},
                               {str(i): c.inputs for i, c in enumerate(calls)}))
            header, tree, _ = s.exchange_reply()
            if s.memory_exceeded:  # the watchdog killed the child, and the worker with it
                raise WorkerFailure("crashed", s._death_message())
            if header.get("status") == "exited":
                s.after_item()
                return WorkerResult("crashed", message=f"the worker {how(exit_code(header))} before reporting a result "
                                    "(sys.exit/os._exit, a crash, or a resource limit)", stdout=self._stdout(mark))
            done, _, _ = s.exchange_reply()
            s.after_item()
            if done.get("status") != "exited":
                self.ok = False
                return WorkerResult("crashed", message="the worker replied more than once (a forged reply?)",
                                    stdout=self._stdout(mark))
            if exit_code(done) != 0:
                return WorkerResult("crashed", message="the worker " + how(exit_code(done)) + " after replying",
                                    stdout=self._stdout(mark))
            return parse_reply(header, tree, len(calls), self._stdout(mark))
        except WorkerFailure as failure:
            self.ok = False
            s.kill()
            return WorkerResult(failure.status, message=failure.message, stdout=self._stdout(mark))

    def _stdout(self, mark):
        out = self.session._out
        out.seek(0, os.SEEK_END)
        size = out.tell()
        out.seek(max(mark, size - STDOUT_TAIL))
        text = out.read().decode("utf-8", "replace")
        return ("[... output truncated]\n" if size - mark > STDOUT_TAIL else "") + text

    def close(self):
        self.session.close()




class WorkerPool:
    """Pre-started workers (`Zygote`) per submission, shared by the grading threads."""

    def __init__(self, *, extra_files=(), device="cpu", sandbox=True):
        self.extra_files, self.device, self.sandbox = tuple(extra_files), device, sandbox
        self._idle, self._lock = {}, threading.Lock()

    def run(self, submission, calls, limits: Limits) -> WorkerResult:
        key = str(submission)
        with self._lock:
            idle = self._idle.setdefault(key, [])
            zygote = idle.pop() if idle else None
        if zygote is None:
            try:
                zygote = Zygote(submission, extra_files=self.extra_files, device=self.device, sandbox=self.sandbox)
            except WorkerFailure as failure:
                return WorkerResult(failure.status, message=failure.message)
        result = zygote.run(calls, limits)
        if zygote.ok:
            with self._lock:
                if key in self._idle:
                    self._idle[key].append(zygote)
                    zygote = None
        if zygote is not None:
            zygote.close()
        return result

    def release(self, submission):
        """Close the workers of a submission that is done."""
        with self._lock:
            idle = self._idle.pop(str(submission), [])
        for z in idle:
            z.close()

    def close(self):
        with self._lock:
            idle = [z for zs in self._idle.values() for z in zs]
            self._idle = {}
        for z in idle:
            z.close()



def run_worker(submission: Path, calls: list, limits: Limits = Limits(), *, extra_files=(),
               device: str = "cpu", sandbox: bool = True, files=None) -> WorkerResult:
    """Run `calls` on the student code in `submission` and return the validated outputs."""
    course = course_drivers.frame(calls)  # before the worker starts: a driver nobody defines raises
    session = None
    try:
        session = Session(submission, limits, extra_files=extra_files, device=device, sandbox=sandbox, files=files)
        header, tree, _ = session.exchange({"op": "calls", "calls": [{"driver": c.driver, "spec": c.spec} for c in calls],
                                            **course},
                                           {str(i): c.inputs for i, c in enumerate(calls)})
        session.finish()
        return parse_reply(header, tree, len(calls), session.stdout())
    except WorkerFailure as failure:
        return WorkerResult(failure.status, message=failure.message, stdout=session.stdout() if session else "")
    finally:
        if session is not None:
            session.close()

