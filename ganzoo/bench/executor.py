"""A local pool of worker processes for bench runs.

Each worker is a ``spawn``-started process that imports torch once and then trains runs one after
another (:func:`ganzoo.bench.worker.execute`). A worker that dies (segfault, out of memory) fails
only its current run; a fresh worker takes over the remaining ones. Workers die with the bench
(``PR_SET_PDEATHSIG``, Linux) and stop cleanly on Ctrl-C or SIGTERM: a training run saves a
checkpoint and reports ``interrupted``, so rerunning the bench resumes it.
"""

from __future__ import annotations

import collections
import contextlib
import multiprocessing as mp
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from ganzoo.bench.suite import RunSpec

EventFn = Callable[[str, RunSpec, "dict[str, Any] | None"], None]
"""``on_event(kind, spec, record)``: kind is ``start`` or ``done`` (record given)."""


@dataclass
class WorkerSettings:
    """How each worker process is set up."""

    threads: int = 1
    device: str = "cpu"
    gpus: Sequence[int] = ()  # CUDA device per worker, round robin (empty: leave visibility alone)
    env: dict[str, str] = field(default_factory=dict)


def _die_with_parent(parent: int) -> None:
    """Ask Linux to SIGTERM this process when the bench process dies (e.g. SIGKILL)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _worker_main(conn: Connection, threads: int, device: str, parent: int) -> None:
    """Entry point of a worker process: receive specs, send ``start`` and ``done`` messages."""
    _die_with_parent(parent)
    import torch

    torch.set_num_threads(max(1, threads))
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(max(1, threads))
    from ganzoo.bench.worker import execute

    while True:
        try:
            spec = conn.recv()
        except (EOFError, KeyboardInterrupt, OSError):
            return
        if spec is None:
            return
        try:
            conn.send(("start", spec.key, None))
            torch.set_num_threads(max(1, spec.threads or threads))
            record = execute(spec, device=device)
            conn.send(("done", spec.key, record))
        except (BrokenPipeError, EOFError, OSError):
            return
        except KeyboardInterrupt:
            return


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class _Stop(Exception):
    """SIGTERM received by the bench process."""


@dataclass
class _Worker:
    proc: Any
    conn: Connection
    spec: RunSpec | None = None
    started: bool = False


class WorkerPool:
    """Runs :class:`RunSpec` s on ``n`` worker processes; see :meth:`run`."""

    def __init__(self, n: int, settings: WorkerSettings, *, grace: float = 60.0, tick: float = 1.0) -> None:
        self.n = max(1, n)
        self.settings = settings
        self.grace = grace
        self.tick = tick
        self.interrupted = False
        self._ctx = mp.get_context("spawn")
        self._spawned = 0

    def _spawn(self) -> _Worker:
        parent_conn, child_conn = self._ctx.Pipe()
        env = {
            "OMP_NUM_THREADS": str(self.settings.threads),
            "MKL_NUM_THREADS": str(self.settings.threads),
            **self.settings.env,
        }
        if self.settings.gpus:
            env["CUDA_VISIBLE_DEVICES"] = str(self.settings.gpus[self._spawned % len(self.settings.gpus)])
        proc = self._ctx.Process(
            target=_worker_main, args=(child_conn, self.settings.threads, self.settings.device, os.getpid()),
            name=f"ganzoo-bench-{self._spawned}", daemon=False,
        )
        with _environ(env):
            proc.start()
        child_conn.close()
        self._spawned += 1
        return _Worker(proc, parent_conn)

    def run(self, specs: Sequence[RunSpec], on_event: EventFn, on_tick: Callable[[], None] | None = None) -> dict[str, dict[str, Any]]:
        """Execute ``specs`` (in order) and return ``{spec.key: record}``.

        On Ctrl-C or SIGTERM no new run starts; running ones checkpoint and report ``interrupted``
        (within ``grace`` seconds, else they are killed) and :attr:`interrupted` is set.
        """
        pending = collections.deque(specs)
        results: dict[str, dict[str, Any]] = {}
        workers: list[_Worker] = []
        old_term = None

        def on_term(signum: int, frame: Any) -> None:
            raise _Stop()

        with contextlib.suppress(ValueError):
            old_term = signal.signal(signal.SIGTERM, on_term)
        try:
            try:
                self._loop(pending, workers, results, on_event, on_tick)
            except (KeyboardInterrupt, _Stop):
                self.interrupted = True
                pending.clear()
                self._drain(workers, results, on_event, on_tick, forward=True)
        finally:
            self._shutdown(workers)
            if old_term is not None:
                signal.signal(signal.SIGTERM, old_term)
        return results

    # ------------------------------------------------------------------ internals
    def _loop(self, pending: collections.deque, workers: list[_Worker], results: dict, on_event: EventFn,
              on_tick: Callable[[], None] | None) -> None:
        last_tick = 0.0
        while pending or any(w.spec for w in workers):
            workers[:] = [w for w in workers if w.proc.is_alive() or w.spec is not None]
            while pending and len(workers) < self.n:
                workers.append(self._spawn())
            for w in workers:
                if w.spec is None and pending and w.proc.is_alive():
                    w.spec, w.started = pending.popleft(), False
                    try:
                        w.conn.send(w.spec)
                    except (BrokenPipeError, OSError):
                        pass  # noticed below as a dead worker
            self._poll(workers, results, on_event, self.tick)
            if on_tick and time.monotonic() - last_tick >= self.tick:
                last_tick = time.monotonic()
                on_tick()

    def _poll(self, workers: list[_Worker], results: dict, on_event: EventFn, timeout: float) -> None:
        busy = [w for w in workers if w.spec is not None]
        if not busy:
            time.sleep(min(timeout, 0.05))
            return
        waitables: list[Any] = [w.conn for w in busy] + [w.proc.sentinel for w in busy]
        ready = wait(waitables, timeout=timeout)
        for w in busy:
            if w.conn in ready or w.proc.sentinel in ready:
                self._receive(w, results, on_event)

    def _receive(self, w: _Worker, results: dict, on_event: EventFn) -> None:
        while w.spec is not None:
            try:
                if not w.conn.poll():
                    if w.proc.is_alive():
                        return
                    raise EOFError
                kind, key, record = w.conn.recv()
            except (EOFError, OSError):
                w.proc.join(timeout=5)
                spec = w.spec
                w.spec = None
                if not w.started:
                    on_event("start", spec, None)
                code = w.proc.exitcode
                how = f"killed by {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit code {code}"
                record = {
                    "variant": spec.variant, "seed": spec.seed, "steps": spec.steps, "fingerprint": spec.fingerprint,
                    "status": "interrupted" if self.interrupted else "failed",
                    "error": f"the worker process died ({how}); out of memory?", "error_type": "WorkerDied",
                    "metrics": {},
                }
                with contextlib.suppress(OSError):
                    from ganzoo.bench.worker import read_record, write_record

                    prev = read_record(spec.run_dir)
                    record = {**prev, **record} if prev else record
                    if spec.run_dir.exists():
                        write_record(spec.run_dir, record)
                results[spec.key] = record
                on_event("done", spec, record)
                return
            if kind == "start":
                w.started = True
                on_event("start", w.spec, None)
            elif kind == "done":
                spec = w.spec
                w.spec = None
                results[key] = record
                on_event("done", spec, record)

    def _drain(self, workers: list[_Worker], results: dict, on_event: EventFn, on_tick: Callable[[], None] | None,
               *, forward: bool) -> None:
        """After an interruption: let running workers checkpoint and report, then return."""
        busy = [w for w in workers if w.spec is not None]
        if forward:
            for w in busy:
                with contextlib.suppress(ProcessLookupError, OSError):
                    os.kill(w.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        try:
            while any(w.spec for w in workers) and time.monotonic() < deadline:
                self._poll(workers, results, on_event, 0.5)
                if on_tick:
                    on_tick()
        except (KeyboardInterrupt, _Stop):
            pass  # second Ctrl-C: stop waiting
        for w in workers:
            if w.spec is not None and w.proc.is_alive():
                w.proc.kill()
                w.proc.join(timeout=5)
                self._receive(w, results, on_event)

    def _shutdown(self, workers: list[_Worker]) -> None:
        for w in workers:
            with contextlib.suppress(BrokenPipeError, OSError):
                w.conn.send(None)
        deadline = time.monotonic() + 10
        for w in workers:
            w.proc.join(timeout=max(0.1, deadline - time.monotonic()))
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join(timeout=5)
            with contextlib.suppress(OSError):
                w.conn.close()
