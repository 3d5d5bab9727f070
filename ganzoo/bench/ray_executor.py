"""Bench runs as Ray tasks (``ganzoo bench --executor ray [--address ADDR]``): one ``ray.remote`` task per
run (``num_gpus=1`` on CUDA, else ``num_cpus`` = threads per run) calling :func:`ganzoo.bench.worker.execute`
as a local worker process does. The output folder must be on a filesystem every node sees: runs write their
directories and records there and the driver reads them back, so results and report are the local
executor's. A task whose worker process dies (SIGKILL, OOM, a lost node) is retried by Ray and resumes from
the run's checkpoint; Ctrl-C cancels the tasks (see :class:`ganzoo.bench.executor.Executor`). Ray is
optional (``pip install 'ganzoo[ray]'``) and imported only when this executor is used."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from ganzoo.bench.executor import DoneFn, Executor
from ganzoo.bench.suite import RunSpec
from ganzoo.bench.worker import LOG_FILE, execute, lost_record, read_record
from ganzoo.errors import ConfigError

INSTALL_HINT = "pip install 'ganzoo[ray]'  (or: pip install 'ray[default]')"
_started_here = False  # this process started a local Ray (shut down when the bench ends)


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
            raise ConfigError(f"--executor ray: cannot connect to {f'the Ray cluster at {address!r}' if address else 'Ray'}: {exc}") from None
        _started_here = True
    return ray


def device_plan(device: str, workers: int | None, n_runs: int, address: str | None = None) -> tuple[str, int, int, list[int]]:
    """``(run device, concurrent runs, threads per run, [])`` from the Ray cluster's resources, like the
    local plan from this machine's (the driver itself may have no GPU)."""
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers {workers}: expected a positive number")
    nodes = [n.get("Resources", {}) for n in connect(address).nodes() if n.get("Alive")]
    total_cpus, total_gpus = (int(sum(n.get(k, 0) for n in nodes)) for k in ("CPU", "GPU"))
    if device == "cuda" and total_gpus == 0:
        raise ConfigError("--device cuda: the Ray cluster has no GPU; use --device cpu or auto")
    if device == "cuda" or (device == "auto" and total_gpus > 0):  # CPU threads per GPU run: a node's CPUs shared by its GPUs
        per_gpu = [int(n.get("CPU", 1) // n["GPU"]) for n in nodes if n.get("GPU", 0) >= 1]
        return "cuda", max(1, min(workers or total_gpus, n_runs)), max(1, min(per_gpu, default=1)), []
    n = max(1, min(workers or total_cpus, n_runs))
    cap = int(max((n.get("CPU", 1) for n in nodes), default=1))
    return "cpu", n, max(1, min(cap, (total_cpus or 1) // n)), []


def run_task(spec: RunSpec, device: str, marker: str, token: str) -> str:
    """Body of the Ray task: one bench run on this worker; returns its status."""
    try:
        visible = Path(marker).read_text(encoding="utf-8").strip() == token
    except OSError:
        visible = False
    if not visible:
        raise RuntimeError(f"the bench's output folder {str(Path(marker).parent)!r} is not visible on Ray node "
                           f"{socket.gethostname()}: put --out on a filesystem every node sees")
    import torch

    torch.set_num_threads(max(1, spec.threads or 1))
    spec.run_dir.mkdir(parents=True, exist_ok=True)
    with open(spec.run_dir / LOG_FILE, "a", encoding="utf-8") as log, contextlib.redirect_stdout(log), \
            contextlib.redirect_stderr(log):
        return execute(spec, device=device)["status"]


class RayExecutor(Executor):
    """Runs :class:`RunSpec` s as Ray tasks, at most ``workers`` in flight (None: as the cluster admits)."""

    def __init__(self, workers: int | None, device: str, threads: int, *, address: str | None = None,
                 max_retries: int = 3, grace: float = 60.0, tick: float = 1.0) -> None:
        self.workers, self.device, self.threads, self.address = workers, device, threads, address
        self.max_retries, self.grace, self.tick = max_retries, grace, tick
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
                record = lost_record(spec, "interrupted" if self.interrupted else "failed", _why(exc))
            return record

    def _stop(self, *, kill: bool) -> None:
        for fut, ref in self._refs.items():
            if not fut.done():
                with contextlib.suppress(Exception):
                    self._ray.cancel(ref, force=kill)


def _why(exc: BaseException) -> str:
    name, text = type(exc).__name__, " ".join(str(exc).split())
    if "WorkerCrashed" in name or "NodeDied" in name or "OutOfMemory" in name or "worker died" in text.lower():
        return f"the Ray worker process died ({name}) after all retries; out of memory?"
    cause = getattr(exc, "cause", None)
    return f"the Ray task failed: {cause}" if cause is not None else f"the Ray task failed ({name}: {text[:400]})"
