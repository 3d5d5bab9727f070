"""How ``train`` and ``resume`` end: a one-line summary, or how to resume after an interruption."""

from __future__ import annotations

import signal
import sys

import click


def report_outcome(result: object, is_main: bool = True) -> None:
    run_dir, step, status, sig = result.run_dir, result.step, result.status, result.signal  # type: ignore[attr-defined]
    if not is_main:
        return
    if status == "interrupted":
        name = signal.Signals(sig).name if sig else "signal"
        click.echo(f"Interrupted by {name} at step {step}; checkpoint saved. Resume with: ganzoo resume {run_dir}", err=True)
        sys.exit(128 + int(sig or signal.SIGINT))
    click.echo(f"Run complete at step {step}: {run_dir}")


def finish(result: object, is_main: bool, world_size: int) -> None:
    """Report the outcome; a torchrun worker then leaves at once (see
    :func:`ganzoo.distributed.context.leave_worker`): by now the checkpoint, samples and status are
    written and every rank has passed the trainer's final barrier."""
    if world_size <= 1:
        report_outcome(result, is_main)
        return
    from ganzoo.distributed.context import leave_worker

    code = 0
    try:
        report_outcome(result, is_main)
    except SystemExit as exc:
        code = int(exc.code or 0)
    leave_worker(code)
