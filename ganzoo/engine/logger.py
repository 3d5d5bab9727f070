"""Run logging: ``metrics.jsonl``, TensorBoard scalars and images, a progress bar."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ganzoo.config import RunConfig, flatten
from ganzoo.errors import one_line
from ganzoo.files import read_json_lines, write_text
from ganzoo.rundir import METRICS_FILE


class RunLogger:
    def __init__(self, run_dir: Path, *, tensorboard: bool, quiet: bool, total_steps: int, start_step: int, enabled: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.enabled = enabled
        self.metrics_path = self.run_dir / METRICS_FILE
        self.start_step = start_step
        self._tb: Any = None
        self._tb_wanted = enabled and tensorboard
        self._bar = None
        if enabled and not quiet:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total_steps, initial=start_step, unit="step", dynamic_ncols=True, file=sys.stderr, desc="train", mininterval=0.5)

    def _writer(self, step: int) -> Any:
        """The TensorBoard writer for an event at ``step``, opened on first use (a resume that trains
        nothing adds no event file); None for steps the checkpoint we resumed from already logged.

        On resume the writer purges what was logged after the checkpoint (``purge_step`` = its step + 1),
        like :meth:`truncate_after` does for ``metrics.jsonl``: every step appears once."""
        if not self._tb_wanted or (self.start_step and step <= self.start_step):
            return None
        if self._tb is None:
            self._tb_wanted = False  # one attempt
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(log_dir=str(self.run_dir / "tb"),
                                         purge_step=self.start_step + 1 if self.start_step else None)
                self._tb_wanted = True
            except Exception as exc:  # tensorboard missing or broken: logging must not stop training
                print(f"Warning: TensorBoard logging disabled ({exc})", file=sys.stderr)
        return self._tb

    def truncate_after(self, step: int) -> None:
        """On resume, drop rows logged after the checkpoint we resume from."""
        if not self.enabled or not self.metrics_path.exists():
            return
        # Lines that are not metrics rows (a list, a number, a step that is no integer) are dropped.
        rows = [r for r in read_json_lines(self.metrics_path) if isinstance(r.get("step"), int) and r["step"] <= step]
        write_text(self.metrics_path, "".join(json.dumps(r) + "\n" for r in rows))

    def log(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with open(self.metrics_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        tb = self._writer(row["step"])
        if tb is not None:
            for k, v in row.items():
                if k != "step" and isinstance(v, (int, float)):
                    tb.add_scalar(k.replace(".", "/"), v, row["step"])
            tb.flush()

    def image(self, tag: str, grid: torch.Tensor, step: int) -> None:
        tb = self._writer(step)
        if tb is not None:
            tb.add_image(tag, grid, step)

    def progress(self, step: int, postfix: dict[str, Any] | None = None) -> None:
        if self._bar is not None:
            if postfix:
                self._bar.set_postfix(postfix, refresh=False)
            self._bar.update(step - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        if self._tb is not None:
            self._tb.close()


def log_hparams(run_dir: Path, cfg: RunConfig, metrics: Mapping[str, float], *, step: int,
                extra: Mapping[str, Any] = {}) -> bool:
    """With ``train.tensorboard`` on, add the run's hyperparameters (``extra``, then the config's scalar options but
    ``run.seed``) and final ``metrics`` to ``RUN_DIR/tb``; a TensorBoard failure is a warning. True when written."""
    if not cfg.train.get("tensorboard"):
        return False
    hparams = dict(extra)
    for key, v in flatten(cfg.to_dict()).items():
        v = "+".join(map(str, v)) if isinstance(v, (list, tuple)) else v
        if isinstance(v, (bool, int, float, str)) and key != "run.seed":
            hparams[key] = v
    try:
        from torch.utils.tensorboard import SummaryWriter

        with SummaryWriter(log_dir=str(Path(run_dir) / "tb")) as w:
            w.add_hparams(hparams, {k: float(v) for k, v in metrics.items()}, run_name=".", global_step=step)
        return True
    except Exception as exc:  # TensorBoard missing or broken: the run's results stand
        print(f"warning: TensorBoard hparams not written ({one_line(exc)})", flush=True)
        return False
