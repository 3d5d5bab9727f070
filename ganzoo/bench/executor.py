"""The local executor: each run is a ``python -m ganzoo.bench.worker`` subprocess (its stdout and
stderr are the run's ``bench.log``), at most ``workers`` at a time through a thread pool.

A run whose process dies (segfault, out of memory) fails alone. Ctrl-C reaches the runs too (one
process group); on Ctrl-C or SIGTERM no new run starts, running ones are sent SIGTERM (they
checkpoint and report ``interrupted``, so rerunning the bench resumes them) and are waited for
``grace`` seconds; a second Ctrl-C stops waiting.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed, wait
from typing import Any

from ganzoo.bench.suite import RunSpec
from ganzoo.bench.worker import LOG_FILE, lost_record, read_record

DoneFn = Callable[[RunSpec, "dict[str, Any]"], None]
"""``on_done(spec, record)``: called in the bench's main thread as each run ends."""


class Stop(Exception):
    """SIGTERM received by the bench process."""


@contextlib.contextmanager
def stop_on_sigterm() -> Any:
    """Raise :class:`Stop` in the main thread on SIGTERM (Ctrl-C raises KeyboardInterrupt)."""

    def raise_stop(signum: int, frame: Any) -> None:
        raise Stop()

    old = None
    with contextlib.suppress(ValueError):  # not the main thread
        old = signal.signal(signal.SIGTERM, raise_stop)
    try:
        yield
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)


class LocalExecutor:
    """Runs :class:`RunSpec` s in worker subprocesses, ``workers`` at a time, in the order given."""

    def __init__(self, workers: int, device: str = "cpu", gpus: Sequence[int] = (), *, grace: float = 60.0) -> None:
        self.workers, self.device, self.grace = max(1, workers), device, grace
        self.gpus: queue.Queue[int] = queue.Queue()
        self.use_gpus = bool(gpus)
        for i in range(self.workers if gpus else 0):
            self.gpus.put(gpus[i % len(gpus)])
        self.interrupted = False
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._stop = threading.Event()

    def _one(self, spec: RunSpec) -> dict[str, Any] | None:
        if self._stop.is_set():
            return None
        gpu = self.gpus.get() if self.use_gpus else None  # a free GPU: one run per GPU at a time
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
        record = read_record(spec.run_dir)
        if proc.returncode in (0, 130) and record.get("status") not in (None, "running"):
            return record
        code = proc.returncode
        how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        return lost_record(spec, "interrupted" if self.interrupted else "failed",
                           f"the worker process died ({how}); out of memory?")

    def run(self, specs: Sequence[RunSpec], on_done: DoneFn) -> dict[str, dict[str, Any]]:
        """Execute ``specs`` and return ``{spec.key: record}`` (runs never started are left out)."""
        results: dict[str, dict[str, Any]] = {}
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="ganzoo-bench")
        futures: dict[Future, RunSpec] = {pool.submit(self._one, s): s for s in specs}

        def take(fut: Future) -> None:
            record = fut.result()
            if record is not None:
                results[futures[fut].key] = record
                on_done(futures[fut], record)

        try:
            with stop_on_sigterm():
                try:
                    for fut in as_completed(futures):
                        take(fut)
                except (KeyboardInterrupt, Stop):
                    self.interrupted = True
                    self._stop.set()
                    for fut in futures:
                        fut.cancel()
                    self._signal(kill=False)
                    running = [f for f in futures if not f.cancelled() and futures[f].key not in results]
                    with contextlib.suppress(KeyboardInterrupt, Stop):  # a second Ctrl-C: stop waiting
                        wait(running, timeout=self.grace)
                    self._signal(kill=True)
                    for fut in wait(running).done:
                        take(fut)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return results

    def _signal(self, *, kill: bool) -> None:
        for proc in list(self._procs.values()):
            if proc.poll() is None:
                with contextlib.suppress(OSError):
                    proc.kill() if kill else proc.terminate()
