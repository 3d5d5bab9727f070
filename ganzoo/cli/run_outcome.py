"""How ``train`` and ``resume`` end: a one-line summary, or how to resume after an interruption."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

import click

from ganzoo.cli.common import echo_json
from ganzoo.files import read_json_lines


def last_metrics(run_dir: Path) -> dict[str, Any]:
    """The last row of ``metrics.jsonl`` (empty when there is none)."""
    return (read_json_lines(Path(run_dir) / "metrics.jsonl") or [{}])[-1]


def summary(result: object) -> dict[str, Any]:
    """What ``train``/``resume --json`` print: run directory, status, step and the last logged metrics."""
    row = last_metrics(result.run_dir)  # type: ignore[attr-defined]
    data: dict[str, Any] = {"run_dir": str(result.run_dir), "status": result.status, "step": result.step}  # type: ignore[attr-defined]
    data.update({k: v for k, v in row.items() if k != "step" and isinstance(v, (int, float))})
    if result.signal:  # type: ignore[attr-defined]
        data["signal"] = signal.Signals(result.signal).name  # type: ignore[attr-defined]
    return data


def _metric_text(data: dict[str, Any]) -> str:
    parts = [f"{k} {data[k]:.4g}" for k in ("loss_d", "loss_g", "penalty") if isinstance(data.get(k), (int, float))]
    if isinstance(data.get("wall_time"), (int, float)):
        parts.append(f"{data['wall_time']:.1f} s wall time")
    return f" ({', '.join(parts)})" if parts else ""


def report_outcome(result: object, is_main: bool = True, as_json: bool = False) -> None:
    run_dir, step, status, sig = result.run_dir, result.step, result.status, result.signal  # type: ignore[attr-defined]
    if not is_main:
        return
    data = summary(result)
    if as_json:
        echo_json(data)
    if status == "interrupted":
        name = signal.Signals(sig).name if sig else "signal"
        click.echo(f"Interrupted by {name} at step {step}; checkpoint saved. Resume with: ganzoo resume {run_dir}", err=True)
        sys.exit(128 + int(sig or signal.SIGINT))
    if not as_json:
        click.echo(f"Run complete at step {step}{_metric_text(data)}: {run_dir}")


def finish(result: object, is_main: bool, world_size: int, as_json: bool = False) -> None:
    """Report the outcome; a torchrun worker then leaves at once (see
    :func:`ganzoo.distributed.context.leave_worker`): by now the checkpoint, samples and status are
    written and every rank has passed the trainer's final barrier."""
    if world_size <= 1:
        report_outcome(result, is_main, as_json)
        return
    from ganzoo.distributed.context import leave_worker

    code = 0
    try:
        report_outcome(result, is_main, as_json)
    except SystemExit as exc:
        code = int(exc.code or 0)
    leave_worker(code)
