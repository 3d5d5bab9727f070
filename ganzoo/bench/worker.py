"""One bench run: train (fresh or resumed), evaluate, and record the outcome in ``RUN_DIR/bench.json``.
``python -m ganzoo.bench.worker`` runs one (a pickled ``(RunSpec, device)`` on stdin); its output is ``bench.log``."""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import pickle
import shutil
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import torch

from ganzoo.bench.evaluation import evaluate_run
from ganzoo.bench.suite import RunSpec
from ganzoo.distributed.context import die_with_parent
from ganzoo.engine import checkpoint as ckpt
from ganzoo.engine.api import resume_run, start_run
from ganzoo.engine.logger import log_hparams
from ganzoo.errors import CheckpointError, one_line
from ganzoo.files import read_json_object, write_text
from ganzoo.rundir import read_run_config, read_status, train_stats

RECORD_FILE = "bench.json"
LOG_FILE = "bench.log"


def read_record(run_dir: Path) -> dict[str, Any]:
    return read_json_object(Path(run_dir) / RECORD_FILE)


def write_record(run_dir: Path, record: dict[str, Any]) -> None:
    write_text(Path(run_dir) / RECORD_FILE, json.dumps(record, indent=2, default=str) + "\n")


def is_finished(spec: RunSpec) -> bool:
    """True when ``spec`` was trained and evaluated before with the same config, steps and metrics."""
    rec = read_record(spec.run_dir)
    return (rec.get("status") == "completed" and rec.get("fingerprint") == spec.fingerprint
            and rec.get("steps") == spec.steps and rec.get("eval_key") == spec.eval_key)


def lost_record(spec: RunSpec, status: str, error: str) -> dict[str, Any]:
    """The record of a run whose process died or whose task was lost (merged into what it had written)."""
    prev = read_record(spec.run_dir)
    record = {**(prev if prev.get("fingerprint") == spec.fingerprint else {}),
              "variant": spec.variant, "seed": spec.seed, "steps": spec.steps, "fingerprint": spec.fingerprint,
              "status": status, "error": error, "error_type": "WorkerDied", "metrics": {}}
    with contextlib.suppress(OSError):
        if spec.run_dir.exists():
            write_record(spec.run_dir, record)
    return record


def log_to_tensorboard(spec: RunSpec, values: dict[str, float]) -> bool:
    """With ``train.tensorboard`` on, add the run's hyperparameters and metrics (``bench/METRIC``) to ``RUN_DIR/tb``."""
    cfg = read_run_config(spec.run_dir)
    if not cfg.train.get("tensorboard"):  # as log_hparams would say, without reading the bench's protocol
        return False
    suite = read_json_object(spec.run_dir.parents[2] / "protocol.json").get("suite", {}).get("name", "")
    return log_hparams(spec.run_dir, cfg, {f"bench/{k}": v for k, v in values.items()},
                       step=spec.steps, extra={"suite": str(suite), "variant": spec.variant, "seed": spec.seed})


def _now() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def _action(spec: RunSpec) -> tuple[str, str | None]:
    """What to do with ``spec.run_dir``: ``fresh``, ``resume`` or ``evaluate``, and why it restarts."""
    rec, found = read_record(spec.run_dir), ckpt.list_checkpoints(spec.run_dir)
    if not rec:
        return "fresh", "it has no bench record" if any(p.name != LOG_FILE for p in spec.run_dir.iterdir()) else None
    if rec.get("fingerprint") != spec.fingerprint:
        return "fresh", "its configuration changed"
    if not found:
        return "fresh", "it has no checkpoint"
    status = read_status(spec.run_dir)
    if status.get("status") == "completed" and status.get("step") == spec.steps == found[0][0]:
        return "evaluate", None
    return "resume", None  # (a run beyond the steps asked for was refused by the runner)


def execute(spec: RunSpec, *, device: str = "cpu") -> dict[str, Any]:
    """Train and evaluate one run, printing to the run's log; never raises (but on a second Ctrl-C): returns the record."""
    run_dir, previous = spec.run_dir, read_record(spec.run_dir)
    started, cpu0 = time.perf_counter(), time.process_time()
    record: dict[str, Any] = {
        "variant": spec.variant, "seed": spec.seed, "steps": spec.steps, "fingerprint": spec.fingerprint, "status": "running",
        "attempts": int(previous.get("attempts", 0)) + 1 if previous.get("fingerprint") == spec.fingerprint else 1,
        "started_at": _now(), "pid": os.getpid(), "metrics": {},
    }
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        action, reason = _action(spec)
        print(f"--- {_now()} bench attempt {record['attempts']}: {action} ({spec.key}, {spec.steps} steps)", flush=True)
        if reason:
            print(f"restarting {run_dir} from scratch: {reason}", flush=True)
        write_record(run_dir, record)
        status = "completed"
        if action == "resume":
            try:
                status = resume_run(run_dir, steps=spec.steps, quiet=True).status
                record["resumed"] = True
            except CheckpointError as exc:  # no usable checkpoint after all
                print(f"cannot resume ({exc}); restarting from scratch", flush=True)
                action = "fresh"
        if action == "fresh":
            for p in (p for p in run_dir.iterdir() if p.name != LOG_FILE):  # the log may be this process's open stdout
                shutil.rmtree(p) if p.is_dir() else p.unlink()
            write_record(run_dir, record)
            status = start_run(spec.user, run_dir, quiet=True).status
        if status != "completed":
            record["status"] = "interrupted"
            return record
        t0 = time.perf_counter()
        values, details = evaluate_run(run_dir, spec.metrics, num_samples=spec.eval_samples, device=device)
        record.update(metrics=values, eval_key=spec.eval_key, eval={**details, "seconds": time.perf_counter() - t0},
                      status="completed")
        print(f"--- {_now()} completed: " + ", ".join(f"{k}={v:.4g}" for k, v in values.items()), flush=True)
        log_to_tensorboard(spec, values)
    except KeyboardInterrupt:
        record["status"] = "interrupted"
    except BaseException as exc:  # one failing run must not stop the bench
        record.update(status="failed", error=one_line(exc), error_type=type(exc).__name__)
        traceback.print_exc()
    finally:
        record.update(train_stats(run_dir), finished_at=_now(), seconds=time.perf_counter() - started,
                      cpu_seconds=time.process_time() - cpu0)
        with contextlib.suppress(OSError):
            if run_dir.exists():
                write_record(run_dir, record)
    return record


def main() -> int:
    spec, device = pickle.load(sys.stdin.buffer)
    die_with_parent()  # SIGTERM this process when the bench dies (even by SIGKILL): it checkpoints
    with contextlib.suppress(ValueError):  # SIGTERM outside training (evaluation): stop like Ctrl-C
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    torch.set_num_threads(max(1, spec.threads or 1))
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(max(1, spec.threads or 1))
    return 0 if execute(spec, device=device)["status"] in ("completed", "failed") else 130


if __name__ == "__main__":
    sys.exit(main())
