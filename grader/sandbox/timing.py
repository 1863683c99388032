"""Speed items timed where student code cannot reach the clock.

Two sandboxed workers stay up for one speed item: one holds only the student's layer, the other
only the reference's (no student code at all). The parent sends each run its input and measures
the CPU time the worker process spent from the first byte of the input sent to the last byte of
the output received, from the kernel's scheduler statistics (`/proc/PID/task/*/schedstat`),
which no code in the worker can write: a patched timer, a slowed yardstick or a forged result
in the student's process changes nothing, and CPU time is robust to other load on the machine.
Both workers run with `RLIMIT_NPROC` = 1 under their own uid, so neither can start a thread or a
process to work outside the measured process. Every run gets fresh inputs with fresh values drawn from the
grading run's secret salt, the same for both workers, and the student's output must match the
reference's on every timed run, so memoising by identity or by hash, replying early or
precomputing the timed inputs gains nothing. Runs alternate student/reference/reference/student.

Without the sandbox (`--no-sandbox`) or when not run as root, workers share the user's uid, so
`RLIMIT_NPROC` is not applied and a layer could hide work in short-lived threads.

On the GPU (`--device cuda`) the work runs on the device, where the worker's CPU time says
nothing, so each exchange is timed by the parent's wall clock instead, from the first byte of
the input sent to the last byte of the output received: the worker synchronises the device
(`cupy.cuda.Device().synchronize()`) before it replies, and the output is copied back to the
host inside that span, so no kernel can still be running when the clock stops. Both sides pay the
same host/device copies. CUDA starts threads of its own, so the timing workers keep the usual
process limit there (a hidden host thread gains nothing against a wall clock).
"""
import dataclasses

import numpy as np

from grader.items import checks as C
from grader.sandbox.runner import Limits, Session, WorkerFailure

PROBE_REPEAT = 10  # passes on the probe input per timed exchange
IMPLAUSIBLE = 0.5  # a student median under half the reference's fastest run: investigate


class TimingError(Exception):
    """The student's side failed: `status` (error, not_attempted, timeout) and a message."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


def _inputs(item, rng, shape):
    kwargs, x, params = item.make(rng, shape, np.float32)
    data = {"x": x, "params": params}
    if item.part == "backward":
        data["dy"] = (rng.standard_normal(item.out_shape(kwargs, x))).astype(np.float32)
    return kwargs, data


class _Side:
    def __init__(self, session, who, cpu=True):
        self.session, self.who, self.cpu = session, who, cpu

    def send(self, header, tree=None):
        try:
            reply, out, seconds = self.session.exchange(header, tree, cpu=self.cpu)
        except WorkerFailure as exc:
            raise TimingError("timeout" if exc.status == "timeout" else "error", f"{self.who}: {exc.message}")
        if reply.get("status") != "ok":
            status = reply.get("status") if reply.get("status") in ("not_attempted", "error") else "error"
            message = str(reply.get("message", ""))[:500]
            if reply.get("traceback"):
                message += "\n" + str(reply["traceback"])[:2000]
            raise TimingError(status, f"{self.who}: {message}")
        if reply.get("types"):
            raise TimingError("error", f"{self.who}: returned {sorted(set(map(str, reply['types'].values())))}, "
                              "not arrays")
        return out, seconds

    def build(self, slot, module, name, kwargs):
        self.send({"op": "build", "slot": slot, "module": module, "name": name, "kwargs": kwargs})

    def run(self, slot, part, data):
        """(outputs, seconds): the forward pass, or an untimed forward then the timed backward."""
        fwd = {"x": data["x"], "params": data["params"]}
        if part == "forward":
            return self.send({"op": "forward", "slot": slot}, fwd)
        self.send({"op": "forward", "slot": slot, "send": False}, fwd)
        return self.send({"op": "backward", "slot": slot}, {"dy": data["dy"]})


def _agree(student, reference, r):
    """None if the student's outputs match the reference's on run `r` (float32, loose)."""
    for key in sorted(set(reference) | set(student)):
        exp, got = reference.get(key), student.get(key)
        if isinstance(exp, dict) or isinstance(got, dict):
            msg = _agree(got if isinstance(got, dict) else {}, exp if isinstance(exp, dict) else {}, r)
        else:
            msg = C.mismatch(f"{key} [timed run {r}]", got, exp, rtol=1e-2, atol=1e-3)
        if msg:
            return msg
    return None


def measure(item, submission, rng, *, limits: Limits, device="cpu", sandbox=True, files=None) -> dict:
    """{"times": {"student": [...], "reference": [...]}}, {"probe": {...}} or {"wrong": msg}
    for a `SpeedItem`; raises TimingError when the student's code fails."""
    on_gpu = device == "cuda"
    if not on_gpu:
        limits = dataclasses.replace(limits, processes=1)
    with Session(submission, limits, device=device, sandbox=sandbox, files=files) as s_session, \
            Session(None, dataclasses.replace(limits, timeout_s=limits.timeout_s * 2), device=device,
                    sandbox=sandbox, reference=True) as r_session:
        student, reference = _Side(s_session, "your code", not on_gpu), _Side(r_session, "the reference", not on_gpu)
        probe_kwargs, _ = _inputs(item, rng, item.probe_shape)
        kwargs, _ = _inputs(item, rng, item.shape)
        for side in (student, reference):
            side.build("probe", item.module, item.name, probe_kwargs)
            side.build("main", item.module, item.name, kwargs)

        def probe_run(side):  # PROBE_REPEAT passes per exchange: the exchange's own cost is small beside them
            header = {"op": "probe", "slot": "probe", "part": item.part, "repeat": PROBE_REPEAT}
            return side.send(header, _inputs(item, rng, item.probe_shape)[1])[1]

        probe_run(reference)
        probe_ref = min(probe_run(reference) for _ in range(3))
        probe_run(student)  # warm-up
        probe_student = float("inf")
        for _ in range(3):
            probe_student = min(probe_student, probe_run(student))
            if probe_student <= item.probe_limit * probe_ref:
                break
        else:
            return {"probe": {"student": probe_student, "reference": probe_ref}}

        times = {"student": [], "reference": []}
        for r in range(-1, item.repeats):  # run -1: warm-up, checked but not counted
            data = _inputs(item, rng, item.shape)[1]
            outputs = {}
            for who in (("student", "reference") if r % 2 == 0 else ("reference", "student")):
                outputs[who], seconds = (student if who == "student" else reference).run("main", item.part, data)
                if r >= 0:
                    times[who].append(seconds)
            wrong = _agree(outputs["student"], outputs["reference"], r + 1)
            if wrong:
                return {"wrong": wrong}
            if r >= 0 and np.median(times["student"]) > 3 * item.zero_at * min(times["reference"]):
                break  # far into the zero band: more runs would only cost time
            if r >= 2 and sum(times["student"]) + sum(times["reference"]) > item.budget_s:
                break
    s, ref = np.array(times["student"]), np.array(times["reference"])
    if np.median(s) < IMPLAUSIBLE * ref.min():
        raise TimingError("error", f"implausible timing: your median {np.median(s) * 1e3:.2f} ms is less than "
                          f"{IMPLAUSIBLE:g} x the reference's fastest run ({ref.min() * 1e3:.2f} ms); "
                          "no credit until an instructor has looked at it")
    return {"times": {"student": s, "reference": ref}}
