"""Where bench runs execute: :class:`LocalExecutor` (worker subprocesses on this machine) or :class:`RayExecutor`
(Ray tasks; Ray is imported only then). On Ctrl-C or SIGTERM no run starts, running ones checkpoint and stop."""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import pickle
import queue
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import torch

from ganzoo.bench.suite import RunSpec
from ganzoo.bench.worker import LOG_FILE, execute, lost_record, read_record
from ganzoo.errors import ConfigError, one_line

DoneFn = Callable[[RunSpec, "dict[str, Any]"], None]  # on_done(spec, record), in the main thread as each run ends
INSTALL_HINT = "pip install 'ganzoo[ray]'  (or: pip install 'ray[default]')"
_started_here = False  # this process started a local Ray (shut down when the bench ends)


def plan(device: str, workers: int | None, n_runs: int, nodes: Sequence[Mapping[str, float]], no_gpu: str,
         max_workers: int | None = None) -> tuple[str, int, int]:
    """``(run device, concurrent runs, torch threads per run)`` on ``nodes`` (their ``CPU`` and ``GPU`` counts)."""
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers {workers}: expected a positive number")
    cpus, gpus = (int(sum(n.get(k, 0) for n in nodes)) for k in ("CPU", "GPU"))
    if device == "cuda" and not gpus:
        raise ConfigError(f"--device cuda: {no_gpu}; use --device cpu or auto")
    cuda = device == "cuda" or (device == "auto" and gpus > 0)
    workers = max(1, min(workers or (gpus if cuda else min(cpus, max_workers or cpus)), n_runs))
    if cuda:  # a GPU node's CPUs are shared by its GPUs
        share = min((n.get("CPU", 1) // n["GPU"] for n in nodes if n.get("GPU", 0) >= 1), default=1)
    else:  # a run's threads stay on one node
        share = max((n.get("CPU", 1) for n in nodes), default=1)
    return "cuda" if cuda else "cpu", workers, max(1, int(min(cpus // workers, share)))


def local_plan(device: str, workers: int | None, n_runs: int) -> tuple[str, int, int]:
    """:func:`plan` for this machine: at most 32 workers unless asked, threads capped by ``OMP_NUM_THREADS``."""
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    run_device, workers, threads = plan(device, workers, n_runs, [{"CPU": os.cpu_count() or 1, "GPU": gpus}],
                                        "no CUDA device is available", max_workers=32)
    cap = os.environ.get("OMP_NUM_THREADS", "")
    return run_device, workers, min(threads, int(cap)) if cap.isdigit() and int(cap) > 0 else threads


@contextlib.contextmanager
def _counting_signals() -> Iterator[list[int]]:
    """SIGINT/SIGTERM append to the list instead of raising (an exception raised while Ray's C++ code waits breaks
    the driver); the executor checks it between short waits."""
    hits: list[int] = []
    old = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError):  # not the main thread
            old[sig] = signal.signal(sig, lambda num, _: hits.append(num))
    try:
        yield hits
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


class Executor:
    """Runs :class:`RunSpec` s in the order given, a future per run (:meth:`_submit`), at most ``workers`` at a time.
    Stopping: running runs are asked to stop (they checkpoint and report ``interrupted``) and waited for ``grace``
    seconds, then killed; a second signal stops the wait."""

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
                if (record := self._record(spec, fut)) is not None:
                    results[spec.key] = record
                    on_done(spec, record)

        with _counting_signals() as signals:
            while (pending or inflight) and not signals:
                while pending and (self.workers is None or len(inflight) < self.workers):
                    spec = pending.popleft()
                    inflight[self._submit(spec)] = spec
                finish(wait(inflight, self.tick, FIRST_COMPLETED).done)
            if signals:
                self.interrupted, seen = True, len(signals)
                self._stop(kill=False)
                deadline = time.monotonic() + self.grace
                while inflight and time.monotonic() < deadline and len(signals) <= seen:
                    finish(wait(inflight, 0.5, FIRST_COMPLETED).done)
                self._stop(kill=True)
                finish(wait(inflight).done)
        return results


class LocalExecutor(Executor):
    """``python -m ganzoo.bench.worker`` subprocesses (output: the run's ``bench.log``), so a run whose process dies
    fails alone; on CUDA the runs take the GPUs round robin."""

    def __init__(self, workers: int, device: str = "cpu") -> None:
        self.workers, self.device = max(1, workers), device
        self.gpus: queue.Queue[int] = queue.Queue()  # the free GPUs, each once per run it may hold
        for i in range(self.workers) if device == "cuda" else ():
            self.gpus.put(i % torch.cuda.device_count())
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    def run(self, specs: Sequence[RunSpec], on_done: DoneFn) -> dict[str, dict[str, Any]]:
        with ThreadPoolExecutor(self.workers, thread_name_prefix="ganzoo-bench") as self._pool:
            return super().run(specs, on_done)

    def _submit(self, spec: RunSpec) -> Future:
        return self._pool.submit(self._one, spec)

    def _one(self, spec: RunSpec) -> int:
        gpu = self.gpus.get() if self.device == "cuda" else None
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
        why = f"the worker process died ({how}); out of memory?"
        return lost_record(spec, "interrupted" if self.interrupted else "failed", why)

    def _stop(self, *, kill: bool) -> None:
        for proc in list(self._procs.values()):
            if proc.poll() is None:
                with contextlib.suppress(OSError):
                    proc.kill() if kill else proc.terminate()


def connect(address: str | None = None) -> Any:
    """The ``ray`` module, connected to ``address`` (``auto``, ``HOST:PORT``, ``ray://HOST:PORT``; None:
    ``RAY_ADDRESS`` if set, else a new single-node Ray on this machine)."""
    global _started_here
    try:
        import ray
    except ImportError:
        raise ConfigError(f"--executor ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    if not ray.is_initialized():
        local = not address and not os.environ.get("RAY_ADDRESS")
        try:
            ray.init(address=address or None, log_to_driver=False, logging_level=logging.WARNING,
                     include_dashboard=False if local else None)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = f"the Ray cluster at {address!r}" if address else "Ray"
            raise ConfigError(f"--executor ray: cannot connect to {where}: {exc}") from None
        _started_here = True
    return ray


def ray_plan(device: str, workers: int | None, n_runs: int, address: str | None = None) -> tuple[str, int, int]:
    """:func:`plan` on the Ray cluster's resources (the driver itself may have no GPU)."""
    nodes = [n.get("Resources", {}) for n in connect(address).nodes() if n.get("Alive")]
    return plan(device, workers, n_runs, nodes, "the Ray cluster has no GPU")


def run_task(spec: RunSpec, device: str, marker: str, token: str) -> str:
    """Body of the Ray task: one bench run on this worker, as :func:`execute` in a local worker; returns its status."""
    try:
        visible = Path(marker).read_text(encoding="utf-8").strip() == token
    except OSError:
        visible = False
    if not visible:
        raise RuntimeError(f"the bench's output folder {str(Path(marker).parent)!r} is not visible on Ray node "
                           f"{socket.gethostname()}: put --out on a filesystem every node sees")
    torch.set_num_threads(max(1, spec.threads or 1))
    spec.run_dir.mkdir(parents=True, exist_ok=True)
    with open(spec.run_dir / LOG_FILE, "a", encoding="utf-8") as log, contextlib.redirect_stdout(log), \
            contextlib.redirect_stderr(log):
        return execute(spec, device=device)["status"]


class RayExecutor(Executor):
    """One ``ray.remote`` task per run (``num_gpus=1`` on CUDA, else ``num_cpus`` = threads per run), at most ``workers``
    in flight (None: as the cluster admits). ``--out`` must be on a filesystem every node sees. A task whose worker
    process dies is retried by Ray and resumes from the run's checkpoint; stopping cancels the tasks."""

    max_retries = 3  # of a task whose worker process dies

    def __init__(self, workers: int | None, device: str, threads: int, *, address: str | None = None) -> None:
        self.workers, self.device, self.threads, self.address = workers, device, threads, address
        self._refs: dict[Future, Any] = {}
        self._before: dict[str, Any] = {}

    def task_options(self) -> dict[str, Any]:
        # A dead worker process is a system failure that Ray retries; execute() never raises, so a
        # failing run is recorded as failed without retries, as with the local executor.
        return {"num_cpus": max(1, self.threads), "num_gpus": 1 if self.device == "cuda" else 0,
                "max_retries": self.max_retries, "retry_exceptions": False}

    def run(self, specs: Sequence[RunSpec], on_done: DoneFn) -> dict[str, dict[str, Any]]:
        global _started_here
        self._ray = connect(self.address)
        owned, _started_here = _started_here, False
        self._token = secrets.token_hex(16)
        root = Path(os.path.commonpath([str(s.run_dir.resolve().parent.parent) for s in specs] or ["."]))
        self._marker = root / f".ganzoo-ray-{self._token[:8]}"
        self._remote = self._ray.remote(**self.task_options())(run_task)
        try:
            root.mkdir(parents=True, exist_ok=True)
            self._marker.write_text(self._token + "\n", encoding="utf-8")
            return super().run(specs, on_done)
        finally:
            self._marker.unlink(missing_ok=True)
            if owned:
                self._ray.shutdown()

    def _submit(self, spec: RunSpec) -> Future:
        self._before[spec.key] = read_record(spec.run_dir).get("started_at")
        ref = self._remote.options(name=f"ganzoo-bench:{spec.key}").remote(spec, self.device, str(self._marker), self._token)
        fut = ref.future()
        self._refs[fut] = ref
        return fut

    def _record(self, spec: RunSpec, fut: Future) -> dict[str, Any] | None:
        try:
            fut.result()
            return read_record(spec.run_dir)
        except Exception as exc:  # retries used up, cancelled, or the task raised (output not visible)
            record = read_record(spec.run_dir)
            if self.interrupted and record.get("started_at") == self._before[spec.key]:
                return None  # cancelled before it started: like a local run still queued at Ctrl-C
            if self.interrupted or record.get("status") not in ("completed", "failed", "interrupted"):
                name = type(exc).__name__
                died = any(k in name for k in ("WorkerCrashed", "NodeDied", "OutOfMemory")) or "worker died" in str(exc).lower()
                why = (f"the Ray worker process died ({name}) after all retries; out of memory?" if died
                       else f"the Ray task failed: {one_line(getattr(exc, 'cause', None) or exc, 400)}")
                record = lost_record(spec, "interrupted" if self.interrupted else "failed", why)
            return record

    def _stop(self, *, kill: bool) -> None:
        for fut, ref in self._refs.items():
            if not fut.done():
                with contextlib.suppress(Exception):
                    self._ray.cancel(ref, force=kill)
