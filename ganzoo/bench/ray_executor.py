"""Bench runs as Ray tasks: ``ganzoo bench --executor ray [--address ADDR]``.

:class:`RayPool` has the interface of :class:`ganzoo.bench.executor.WorkerPool`: the runner gives
it the runs to do and gets ``{spec.key: record}`` back, so results and report are the same as with
the local pool. Each run is one Ray task (``num_gpus=1`` on CUDA, else ``num_cpus`` = threads per
run) that calls :func:`ganzoo.bench.worker.execute`, exactly what a local worker does.

* Progress: tasks report when they start (through a small actor) and the driver polls ``ray.wait``
  with a timeout, feeding the same progress display as the local pool. With a shared output folder
  the display also follows each run's ``metrics.jsonl``.
* Output: runs write into the bench's output folder. When a worker node cannot see that folder
  (checked per task with a token file the driver writes), the task trains in a temporary folder on
  the worker, starting from a tarball of the run directory as the driver had it (so resumption
  still works), and returns the run directory as a tarball that the driver unpacks in place.
* Faults: a task whose worker process dies (SIGKILL, the OOM killer, a lost node) is retried by
  Ray (``max_retries``); on a shared folder the retry resumes from the run's last checkpoint.
* Ctrl-C / SIGTERM: queued runs are cancelled; running ones are asked to stop (their trainer gets
  SIGTERM: it checkpoints and reports ``interrupted``) and are waited for ``grace`` seconds.

Ray is optional (``pip install 'ganzoo[ray]'``): it is imported only when this executor is used.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import io
import logging
import os
import secrets
import shutil
import signal
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ganzoo.bench.executor import EventFn, WorkerSettings
from ganzoo.bench.suite import RunSpec
from ganzoo.errors import ConfigError

INSTALL_HINT = "pip install 'ganzoo[ray]'  (or: pip install 'ray[default]')"
FORCE_COPY_ENV = "GANZOO_RAY_FORCE_COPY"
"""Set to 1 (on the driver) to have every task train in a local folder and copy the run back, as on
a worker that cannot see the output folder (tests; filesystems that are shared but slow)."""
FAULT_ENV = "GANZOO_RAY_FAULT_DIR"
"""Fault injection for tests (read on the driver): a folder. A run whose file ``<variant>__seed-<k>.arm``
exists there SIGKILLs its own worker process once it has written a checkpoint; the file is renamed
to ``.killed`` first, so only one attempt dies and Ray's retry completes the run."""
MARKER_PREFIX = ".ganzoo-ray-"
_started_here = False  # this process started a local Ray (shut down when the bench ends)


def import_ray() -> Any:
    """The ``ray`` module, or a clear error naming the pip command."""
    try:
        import ray
    except ImportError:
        raise ConfigError(f"--executor ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


def connect(address: str | None = None) -> tuple[Any, bool]:
    """Connect to (or start) Ray; returns ``(ray, started_here)``.

    ``address``: ``auto`` (the cluster this node belongs to), ``HOST:PORT``, ``ray://HOST:PORT``, or
    None (``RAY_ADDRESS`` if set, else a new single-node Ray on this machine)."""
    global _started_here
    ray = import_ray()
    if ray.is_initialized():
        return ray, False
    kwargs: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
    if not address and not os.environ.get("RAY_ADDRESS"):
        kwargs["include_dashboard"] = False
    try:
        ray.init(address=address or None, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address!r}" if address else "Ray"
        raise ConfigError(f"--executor ray: cannot connect to {where}: {exc}") from None
    _started_here = True
    return ray, True


def _alive_nodes(ray: Any) -> list[dict[str, float]]:
    return [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]


def device_plan(device: str, workers: int | None, n_runs: int, address: str | None = None) -> tuple[str, int, int, list[int]]:
    """``(run device, concurrent runs, threads per run, [])`` for the Ray cluster, like the local
    pool's plan but from the cluster's resources (the driver itself may have no GPU)."""
    if device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"--device {device!r}: expected auto, cpu or cuda")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers {workers}: expected a positive number")
    ray, _ = connect(address)
    nodes = _alive_nodes(ray)
    total_cpus = int(sum(n.get("CPU", 0) for n in nodes))
    total_gpus = int(sum(n.get("GPU", 0) for n in nodes))
    if device == "cuda" and total_gpus == 0:
        raise ConfigError("--device cuda: the Ray cluster has no GPU; use --device cpu or auto")
    use_cuda = device == "cuda" or (device == "auto" and total_gpus > 0)
    if use_cuda:
        slots = total_gpus
        # CPU threads per GPU run: the CPUs of a node shared by its GPUs (the smallest such share).
        per_gpu = [int(n.get("CPU", 1) // n["GPU"]) for n in nodes if n.get("GPU", 0) >= 1]
        cap = max(1, min(per_gpu) if per_gpu else 1)
    else:
        slots = max(1, total_cpus)
        cap = max(1, int(max((n.get("CPU", 1) for n in nodes), default=1)))
    n = max(1, min(workers or slots, max(1, n_runs)))
    threads = cap if use_cuda else max(1, min(cap, (total_cpus or 1) // n))
    return ("cuda" if use_cuda else "cpu"), n, threads, []


# ---------------------------------------------------------------------- the task side


class _Events:
    """A tiny actor: tasks say when they start; the driver drains that and may ask them to stop."""

    def __init__(self) -> None:
        self._started: list[str] = []
        self._stop = False

    def started(self, key: str) -> None:
        self._started.append(key)

    def drain(self) -> list[str]:
        out, self._started = self._started, []
        return out

    def stop(self) -> None:
        self._stop = True

    def should_stop(self) -> bool:
        return self._stop


def _tar_dir(folder: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(str(folder), arcname=".")
    return buf.getvalue()


def _untar(data: bytes, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
        try:
            tar.extractall(dest, filter="data")
        except TypeError:  # Python without extraction filters
            for m in tar.getmembers():
                if m.name.startswith(("/", "..")) or "/../" in m.name or m.issym() or m.islnk():
                    raise ValueError(f"unsafe member {m.name!r} in a run tarball")
            tar.extractall(dest)


class _Done:
    """Set when the task body ends; the stop watcher interrupts the main thread only before that."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.lock = threading.Lock()

    def set(self) -> None:
        with self.lock:
            self.event.set()

    def wait(self, timeout: float) -> bool:
        return self.event.wait(timeout)


def _watch_stop(events: Any, done: _Done) -> None:
    """Poll the driver's stop request and turn it into SIGINT in the task's main thread: the trainer
    then checkpoints and returns ``interrupted`` (outside training, execute() records a
    KeyboardInterrupt as ``interrupted``). Not SIGTERM: Ray's workers exit on it."""
    import _thread

    import ray

    while not done.wait(1.0):
        try:
            stop = ray.get(events.should_stop.remote(), timeout=10)
        except Exception:  # the driver is gone or busy: keep training
            continue
        if stop:
            with done.lock:
                if not done.event.is_set():
                    _thread.interrupt_main()
            return


def _fault_injection(folder: str | None, spec: RunSpec, run_dir: Path, done: _Done) -> None:
    if not folder:
        return
    armed = Path(folder) / (spec.key.replace("/", "__") + ".arm")
    try:
        os.replace(armed, armed.with_suffix(".killed"))  # atomic: exactly one attempt dies
    except OSError:
        return

    def kill_after_checkpoint() -> None:
        while not done.wait(0.02):
            if any((run_dir / "checkpoints").glob("step-*.pt")):
                os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=kill_after_checkpoint, daemon=True).start()


def run_task(spec: RunSpec, device: str, threads: int, marker: str, token: str, tar_box: list[Any],
             events: Any, hooks: dict[str, Any] | None = None) -> dict[str, Any]:
    """Body of the Ray task: one bench run on this worker. Returns ``{"record": ...}`` and, when the
    output folder is not visible here, ``"tar"`` (the run directory as an uncompressed tarball)."""
    import torch

    torch.set_num_threads(max(1, threads))
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(max(1, threads))
    from ganzoo.bench.worker import execute

    if events is not None:
        with contextlib.suppress(Exception):
            events.started.remote(spec.key)
    try:
        shared = Path(marker).read_text(encoding="utf-8").strip() == token
    except OSError:
        shared = False
    hooks = hooks or {}
    if hooks.get("force_copy"):
        shared = False
    done = _Done()
    if events is not None:
        threading.Thread(target=_watch_stop, args=(events, done), daemon=True).start()
    tmp = None
    try:
        if shared:
            _fault_injection(hooks.get("fault_dir"), spec, spec.run_dir, done)
            return {"record": execute(spec, device=device)}
        import ray

        tmp = Path(tempfile.mkdtemp(prefix="ganzoo-ray-"))
        local = tmp / "run"
        if tar_box and tar_box[0] is not None:
            _untar(ray.get(tar_box[0]), local)
        _fault_injection(hooks.get("fault_dir"), spec, local, done)
        record = execute(dataclasses.replace(spec, run_dir=local), device=device)
        return {"record": record, "tar": _tar_dir(local) if local.exists() else None}
    finally:
        done.set()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------- the driver side


class _Stop(Exception):
    """Ctrl-C or SIGTERM received by the bench process."""


class _Signals:
    """Counts SIGINT/SIGTERM instead of raising in the handler: an exception raised from a signal
    handler while Ray's C++ code waits (``ray.wait``) surfaces as a SystemError and breaks the
    driver. The loops check :attr:`count` between short waits."""

    def __init__(self) -> None:
        self.count = 0
        self._old: dict[int, Any] = {}

    def __enter__(self) -> "_Signals":
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not the main thread
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.count += 1

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


class RayPool:
    """Runs :class:`RunSpec` s as Ray tasks; same interface as :class:`~ganzoo.bench.executor.WorkerPool`.

    ``n``: at most this many runs in flight (None: as many as the cluster's resources admit)."""

    def __init__(self, n: int | None, settings: WorkerSettings, *, address: str | None = None,
                 max_retries: int = 3, grace: float = 60.0, tick: float = 1.0) -> None:
        self.n = n
        self.settings = settings
        self.address = address
        self.max_retries = max_retries
        self.grace = grace
        self.tick = tick
        self.interrupted = False

    def _task_options(self) -> dict[str, Any]:
        cuda = self.settings.device == "cuda"
        return {
            "num_cpus": max(1, self.settings.threads),
            "num_gpus": 1 if cuda else 0,
            # A dead worker process (SIGKILL, out of memory, a lost node) is a system failure: Ray
            # retries it up to max_retries times. execute() never raises, so application
            # exceptions need no retry: a failing run is recorded as failed, as with the local pool.
            "max_retries": self.max_retries,
            "retry_exceptions": False,
        }

    def run(self, specs: Sequence[RunSpec], on_event: EventFn, on_tick: Callable[[], None] | None = None) -> dict[str, dict[str, Any]]:
        global _started_here
        ray, _ = connect(self.address)
        owned, _started_here = _started_here, False  # a Ray this module started (here or in device_plan)
        results: dict[str, dict[str, Any]] = {}
        if not specs:
            if owned:
                ray.shutdown()
            return results
        token = secrets.token_hex(16)
        root = Path(os.path.commonpath([str(s.run_dir.resolve().parent) for s in specs]))
        root.mkdir(parents=True, exist_ok=True)
        marker = root / f"{MARKER_PREFIX}{token[:8]}"
        marker.write_text(token + "\n", encoding="utf-8")
        remote = ray.remote(**self._task_options())(run_task)
        events = ray.remote(num_cpus=0, max_restarts=-1)(_Events).remote()
        env = {k: v for k, v in self.settings.env.items()}
        state = _State(collections.deque(specs), {}, set(), _Signals())
        try:
            with state.signals:
                try:
                    self._loop(ray, remote, events, state, str(marker), token, env, results, on_event, on_tick)
                except (KeyboardInterrupt, _Stop):
                    self.interrupted = True
                    self._drain(ray, events, state, results, on_event, on_tick)
        finally:
            marker.unlink(missing_ok=True)
            with contextlib.suppress(Exception):
                ray.kill(events)
            if owned:
                with contextlib.suppress(Exception):
                    ray.shutdown()
        return results

    # ------------------------------------------------------------------ internals
    def _submit(self, ray: Any, remote: Any, events: Any, spec: RunSpec, marker: str, token: str,
                env: dict[str, str]) -> Any:
        tar_ref = None
        if spec.run_dir.is_dir() and any(spec.run_dir.iterdir()):
            # Only fetched by a worker that cannot see the output folder (a nested ref is not resolved).
            tar_ref = ray.put(_tar_dir(spec.run_dir))
        opts: dict[str, Any] = {"name": f"ganzoo-bench:{spec.key}"}
        if env:
            opts["runtime_env"] = {"env_vars": env}
        hooks = {"force_copy": os.environ.get(FORCE_COPY_ENV, "") not in ("", "0"),
                 "fault_dir": os.environ.get(FAULT_ENV) or None}
        return remote.options(**opts).remote(spec, self.settings.device, self.settings.threads, marker, token,
                                             [tar_ref], events, hooks)

    def _loop(self, ray: Any, remote: Any, events: Any, state: "_State", marker: str, token: str,
              env: dict[str, str], results: dict, on_event: EventFn, on_tick: Callable[[], None] | None) -> None:
        last_tick = 0.0
        while state.pending or state.inflight:
            if state.signals.count:
                raise _Stop()
            while state.pending and (self.n is None or len(state.inflight) < self.n):
                spec = state.pending.popleft()
                state.inflight[self._submit(ray, remote, events, spec, marker, token, env)] = spec
            refs = list(state.inflight)
            ready, rest = ray.wait(refs, num_returns=1, timeout=self.tick)
            if ready and rest:
                more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
                ready += more
            self._started(ray, events, state, on_event)
            for ref in ready:
                self._finish(ray, ref, state, results, on_event)
            if on_tick and time.monotonic() - last_tick >= self.tick:
                last_tick = time.monotonic()
                on_tick()

    def _started(self, ray: Any, events: Any, state: "_State", on_event: EventFn) -> None:
        try:
            keys = ray.get(events.drain.remote(), timeout=30)
        except Exception:
            return
        by_key = {s.key: s for s in state.inflight.values()}
        for key in keys:
            if key in by_key and key not in state.started:
                state.started.add(key)
                on_event("start", by_key[key], None)

    def _finish(self, ray: Any, ref: Any, state: "_State", results: dict, on_event: EventFn,
                cancelled: bool = False) -> None:
        spec = state.inflight.pop(ref)
        try:
            out = ray.get(ref)
            record = out["record"]
            if out.get("tar") is not None:
                self._unpack(out["tar"], spec.run_dir)
        except Exception as exc:  # the task died more often than retried, was cancelled, or its node was lost
            from ganzoo.bench.worker import read_record, write_record

            was_cancelled = cancelled or type(exc).__name__ == "TaskCancelledError"
            if was_cancelled and spec.key not in state.started:
                return  # never started: like a local run still queued at Ctrl-C
            status = "interrupted" if self.interrupted or was_cancelled else "failed"
            record = self._lost(spec, status, _why(exc))
            prev = read_record(spec.run_dir)
            if prev.get("fingerprint") == spec.fingerprint:
                record = {**prev, **record}
            with contextlib.suppress(OSError):
                if spec.run_dir.exists():
                    write_record(spec.run_dir, record)
        if spec.key not in state.started:
            state.started.add(spec.key)
            on_event("start", spec, None)
        results[spec.key] = record
        on_event("done", spec, record)

    @staticmethod
    def _lost(spec: RunSpec, status: str, error: str) -> dict[str, Any]:
        return {
            "variant": spec.variant, "seed": spec.seed, "steps": spec.steps, "fingerprint": spec.fingerprint,
            "status": status, "error": error, "error_type": "WorkerDied", "metrics": {},
        }

    @staticmethod
    def _unpack(data: bytes, run_dir: Path) -> None:
        """Replace ``run_dir`` with the tarball's content (unpacked beside it, then swapped in)."""
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{run_dir.name}.", dir=run_dir.parent))
        try:
            _untar(data, tmp / "run")
            if run_dir.exists():
                shutil.rmtree(run_dir)
            os.replace(tmp / "run", run_dir)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _drain(self, ray: Any, events: Any, state: "_State", results: dict, on_event: EventFn,
               on_tick: Callable[[], None] | None) -> None:
        """After an interruption: cancel queued runs, ask running ones to checkpoint, wait ``grace`` s."""
        state.pending.clear()
        self._started(ray, events, state, on_event)
        with contextlib.suppress(Exception):
            ray.get(events.stop.remote(), timeout=10)
        for ref, spec in list(state.inflight.items()):
            if spec.key not in state.started:
                with contextlib.suppress(Exception):
                    ray.cancel(ref, force=False)
        deadline = time.monotonic() + self.grace
        seen = state.signals.count
        # A second Ctrl-C (or SIGTERM) stops waiting.
        while state.inflight and time.monotonic() < deadline and state.signals.count <= max(seen, 1):
            ready, _ = ray.wait(list(state.inflight), num_returns=1, timeout=0.5)
            self._started(ray, events, state, on_event)
            for ref in ready:
                self._finish(ray, ref, state, results, on_event, cancelled=True)
            if on_tick:
                on_tick()
        for ref in list(state.inflight):
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
            self._finish(ray, ref, state, results, on_event, cancelled=True)


@dataclasses.dataclass
class _State:
    pending: collections.deque
    inflight: dict[Any, RunSpec]
    started: set[str]
    signals: _Signals


def _why(exc: BaseException) -> str:
    name = type(exc).__name__
    text = " ".join(str(exc).split())
    if "WorkerCrashed" in name or "NodeDied" in name or "OutOfMemory" in name or "worker died" in text.lower():
        return f"the Ray worker process died ({name}) after all retries; out of memory?"
    return f"the Ray task failed ({name}: {text[:400]})"
