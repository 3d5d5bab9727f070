"""One bench run inside a worker process: train (fresh, or resumed from its checkpoint), evaluate,
and record the outcome in ``RUN_DIR/bench.json``.

``bench.json`` is the bench's own record of a run: its variant, seed, config fingerprint, status
(``running``, ``completed``, ``failed``, ``interrupted``), error, training wall time and img/s, and
the evaluated metrics. A run is finished when its record says ``completed`` for the same
fingerprint and number of steps and holds every metric the suite asks for.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import shutil
import statistics
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ganzoo.bench.suite import RunSpec

RECORD_FILE = "bench.json"
LOG_FILE = "bench.log"


def read_record(run_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((Path(run_dir) / RECORD_FILE).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, json.JSONDecodeError):
        return {}


def write_record(run_dir: Path, record: dict[str, Any]) -> None:
    from ganzoo.files import write_text

    write_text(Path(run_dir) / RECORD_FILE, json.dumps(record, indent=2, default=str) + "\n")


def is_finished(spec: RunSpec) -> bool:
    """True when ``spec`` was trained and evaluated before with the same config and steps."""
    rec = read_record(spec.run_dir)
    return (
        rec.get("status") == "completed"
        and rec.get("fingerprint") == spec.fingerprint
        and rec.get("steps") == spec.steps
        and rec.get("eval_key") == spec.eval_key
    )


def _now() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


@contextlib.contextmanager
def _redirect_output(path: Path) -> Iterator[None]:
    """Send this process's stdout and stderr (Python and C level) to ``path`` (appending)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for f in (fd, *saved):
            os.close(f)


def _one_line(exc: BaseException) -> str:
    from ganzoo.errors import GanzooError

    text = str(exc) if isinstance(exc, GanzooError) else f"{type(exc).__name__}: {exc}"
    text = " ".join(text.split())
    return text[:600] + ("…" if len(text) > 600 else "")


def _train_stats(run_dir: Path) -> dict[str, Any]:
    """Training wall time (status.json) and median img/s (metrics.jsonl)."""
    from ganzoo.rundir import read_status

    status = read_status(run_dir)
    rates = []
    try:
        for line in (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(json.JSONDecodeError, TypeError, ValueError):
                rates.append(float(json.loads(line)["img_per_s"]))
    except OSError:
        pass
    return {
        "step": status.get("step"),
        "wall_time": status.get("wall_time"),
        "img_per_s": statistics.median(rates) if rates else None,
    }


def _prepare_dir(spec: RunSpec, log: list[str]) -> str:
    """Decide what to do with ``spec.run_dir``: ``"fresh"``, ``"resume"`` or ``"evaluate"``."""
    from ganzoo.engine import checkpoint as ckpt
    from ganzoo.rundir import read_status

    run_dir = spec.run_dir
    if not run_dir.exists():
        return "fresh"
    rec = read_record(run_dir)
    reason = None
    if rec.get("fingerprint") != spec.fingerprint:
        reason = "its configuration changed" if rec else "it has no bench record"
    elif not ckpt.list_checkpoints(run_dir):
        reason = "it has no checkpoint"
    else:
        status = read_status(run_dir)
        newest = ckpt.list_checkpoints(run_dir)[0][0]
        if status.get("status") == "completed" and status.get("step") == spec.steps and newest == spec.steps:
            return "evaluate"
        if newest > spec.steps:
            reason = f"it is at step {newest}, beyond the {spec.steps} steps asked for"
        else:
            return "resume"
    log.append(f"restarting {run_dir} from scratch: {reason}")
    shutil.rmtree(run_dir)
    return "fresh"


def execute(spec: RunSpec, *, device: str = "cpu") -> dict[str, Any]:
    """Train and evaluate one run; never raises (except on a second Ctrl-C): the outcome is the record."""
    from ganzoo.bench.evaluation import evaluate_run
    from ganzoo.engine.api import resume_run, start_run
    from ganzoo.errors import CheckpointError

    run_dir = spec.run_dir
    previous = read_record(run_dir)
    notes: list[str] = []
    started = time.perf_counter()
    cpu0 = time.process_time()
    record: dict[str, Any] = {
        "variant": spec.variant, "seed": spec.seed, "steps": spec.steps, "fingerprint": spec.fingerprint,
        "status": "running", "attempts": int(previous.get("attempts", 0)) + 1
        if previous.get("fingerprint") == spec.fingerprint else 1,
        "started_at": _now(), "metrics": {},
    }
    try:
        action = _prepare_dir(spec, notes)
        run_dir.mkdir(parents=True, exist_ok=True)
        write_record(run_dir, record)
        with _redirect_output(run_dir / LOG_FILE):
            print(f"--- {_now()} bench attempt {record['attempts']}: {action} ({spec.key}, {spec.steps} steps)", flush=True)
            for n in notes:
                print(n, flush=True)
            status = "completed"
            if action == "resume":
                try:
                    status = resume_run(run_dir, steps=spec.steps, quiet=True).status
                    record["resumed"] = True
                except CheckpointError as exc:  # no usable checkpoint after all
                    print(f"cannot resume ({exc}); restarting from scratch", flush=True)
                    shutil.rmtree(run_dir)
                    run_dir.mkdir(parents=True)
                    action = "fresh"
            if action == "fresh":
                status = start_run(spec.user, run_dir, quiet=True).status
            record.update(_train_stats(run_dir))
            if status != "completed":
                record["status"] = "interrupted"
                return record
            t0 = time.perf_counter()
            values, details = evaluate_run(run_dir, spec.metrics, num_samples=spec.eval_samples, device=device)
            record["metrics"] = values
            record["eval_key"] = spec.eval_key
            record["eval"] = {**details, "seconds": time.perf_counter() - t0}
            record["status"] = "completed"
            print(f"--- {_now()} completed: " + ", ".join(f"{k}={v:.4g}" for k, v in values.items()), flush=True)
    except KeyboardInterrupt:
        record["status"] = "interrupted"
    except BaseException as exc:  # one failing run must not stop the bench
        record.update(_train_stats(run_dir) if run_dir.exists() else {})
        record["status"] = "failed"
        record["error"] = _one_line(exc)
        record["error_type"] = type(exc).__name__
        with contextlib.suppress(OSError):
            with open(run_dir / LOG_FILE, "a", encoding="utf-8") as fh:
                traceback.print_exc(file=fh)
    finally:
        record["finished_at"] = _now()
        record["seconds"] = time.perf_counter() - started
        record["cpu_seconds"] = time.process_time() - cpu0
        with contextlib.suppress(OSError):
            if run_dir.exists():
                write_record(run_dir, record)
    return record
