"""Where bench runs execute. :class:`Executor` keeps at most ``workers`` runs in flight and stops cleanly:
on Ctrl-C or SIGTERM no new run starts, running ones are asked to stop (they checkpoint and report
``interrupted``, so rerunning the bench resumes them) and waited for ``grace`` seconds, then killed; a
second signal stops waiting. :class:`LocalExecutor` runs each run in a ``python -m ganzoo.bench.worker``
subprocess (its output is the run's ``bench.log``): a run whose process dies fails alone."""

from __future__ import annotations

import collections
import contextlib
import os
import pickle
import queue
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from ganzoo.bench.suite import RunSpec
from ganzoo.bench.worker import LOG_FILE, lost_record, read_record

DoneFn = Callable[[RunSpec, "dict[str, Any]"], None]
"""``on_done(spec, record)``: called in the bench's main thread as each run ends."""


class _Signals:
    """Counts SIGINT/SIGTERM instead of raising in the handler (an exception raised while Ray's C++ code
    waits breaks the driver); the executor checks :attr:`count` between short waits."""

    def __init__(self) -> None:
        self.count, self._old = 0, dict[int, Any]()

    def __enter__(self) -> _Signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not the main thread
                self._old[sig] = signal.signal(sig, lambda *_: setattr(self, "count", self.count + 1))
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


class Executor:
    """Runs :class:`RunSpec` s in the order given through :meth:`_submit` (a future per run)."""

    workers: int | None = None  # runs in flight at most (None: no limit)
    grace, tick, interrupted = 60.0, 1.0, False

    def _submit(self, spec: RunSpec) -> Future:
        raise NotImplementedError

    def _record(self, spec: RunSpec, fut: Future) -> dict[str, Any] | None:
        """The record of a run whose future is done (None: it never started)."""
        raise NotImplementedError

    def _stop(self, *, kill: bool) -> None:
        """Ask the running runs to stop (checkpointing), or kill them."""

    def run(self, specs: Sequence[RunSpec], on_done: DoneFn) -> dict[str, dict[str, Any]]:
        """Execute ``specs`` and return ``{spec.key: record}`` (runs never started are left out)."""
        results: dict[str, dict[str, Any]] = {}
        pending, inflight = collections.deque(specs), dict[Future, RunSpec]()

        def finish(done: Iterable[Future]) -> None:
            for fut in done:
                spec = inflight.pop(fut)
                record = self._record(spec, fut)
                if record is not None:
                    results[spec.key] = record
                    on_done(spec, record)

        with _Signals() as signals:
            while (pending or inflight) and not signals.count:
                while pending and (self.workers is None or len(inflight) < self.workers):
                    spec = pending.popleft()
                    inflight[self._submit(spec)] = spec
                finish(wait(inflight, self.tick, FIRST_COMPLETED).done)
            if signals.count:
                self.interrupted, seen = True, signals.count
                self._stop(kill=False)
                deadline = time.monotonic() + self.grace
                while inflight and time.monotonic() < deadline and signals.count <= seen:
                    finish(wait(inflight, 0.5, FIRST_COMPLETED).done)
                self._stop(kill=True)
                finish(wait(inflight).done)
        return results


class LocalExecutor(Executor):
    """Worker subprocesses on this machine; on CUDA one run per GPU at a time."""

    def __init__(self, workers: int, device: str = "cpu", gpus: Sequence[int] = (), *, grace: float = 60.0) -> None:
        self.workers, self.device, self.grace = max(1, workers), device, grace
        self.gpus: queue.Queue[int] = queue.Queue()
        self.use_gpus = bool(gpus)
        for i in range(self.workers if gpus else 0):
            self.gpus.put(gpus[i % len(gpus)])
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    def run(self, specs: Sequence[RunSpec], on_done: DoneFn) -> dict[str, dict[str, Any]]:
        with ThreadPoolExecutor(self.workers, thread_name_prefix="ganzoo-bench") as self._pool:
            return super().run(specs, on_done)

    def _submit(self, spec: RunSpec) -> Future:
        return self._pool.submit(self._one, spec)

    def _one(self, spec: RunSpec) -> int:
        gpu = self.gpus.get() if self.use_gpus else None  # a free GPU
        env = {**os.environ, "OMP_NUM_THREADS": str(spec.threads or 1), "MKL_NUM_THREADS": str(spec.threads or 1)}
        if gpu is not None:
            env["CUDA_VISIBLE_DEVICES"] = str(gpu)
        try:
            spec.run_dir.mkdir(parents=True, exist_ok=True)
            with open(spec.run_dir / LOG_FILE, "ab") as log:
                proc = subprocess.Popen([sys.executable, "-m", "ganzoo.bench.worker"], stdin=subprocess.PIPE,
                                        stdout=log, stderr=subprocess.STDOUT, env=env)
                self._procs[spec.key] = proc
                proc.communicate(pickle.dumps((spec, self.device)))
        finally:
            if gpu is not None:
                self.gpus.put(gpu)
        return proc.returncode

    def _record(self, spec: RunSpec, fut: Future) -> dict[str, Any]:
        code, record = fut.result(), read_record(spec.run_dir)
        if code in (0, 130) and record.get("status") not in (None, "running"):
            return record
        how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        return lost_record(spec, "interrupted" if self.interrupted else "failed", f"the worker process died ({how}); out of memory?")

    def _stop(self, *, kill: bool) -> None:
        for proc in list(self._procs.values()):
            if proc.poll() is None:
                with contextlib.suppress(OSError):
                    proc.kill() if kill else proc.terminate()
