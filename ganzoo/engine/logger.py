"""Run logging: ``metrics.jsonl``, TensorBoard scalars and images, a progress bar."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import torch

from ganzoo.files import write_text


class RunLogger:
    def __init__(self, run_dir: Path, *, tensorboard: bool, quiet: bool, total_steps: int, start_step: int, enabled: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.enabled = enabled
        self.metrics_path = self.run_dir / "metrics.jsonl"
        self._tb = None
        if enabled and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(log_dir=str(self.run_dir / "tb"), purge_step=start_step or None)
            except Exception as exc:  # tensorboard missing or broken: logging must not stop training
                print(f"Warning: TensorBoard logging disabled ({exc})", file=sys.stderr)
        self._bar = None
        if enabled and not quiet:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total_steps, initial=start_step, unit="step", dynamic_ncols=True, file=sys.stderr, desc="train", mininterval=0.5)

    def truncate_after(self, step: int) -> None:
        """On resume, drop rows logged after the checkpoint we resume from."""
        if not self.enabled or not self.metrics_path.exists():
            return
        rows = []
        for line in self.metrics_path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            # Lines that are not metrics rows (a list, a number, a step that is no integer) are dropped.
            if isinstance(row, dict) and isinstance(row.get("step"), int) and row["step"] <= step:
                rows.append(line)
        write_text(self.metrics_path, "".join(r + "\n" for r in rows))

    def log(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with open(self.metrics_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        if self._tb is not None:
            for k, v in row.items():
                if k != "step" and isinstance(v, (int, float)):
                    self._tb.add_scalar(k.replace(".", "/"), v, row["step"])
            self._tb.flush()

    def image(self, tag: str, grid: torch.Tensor, step: int) -> None:
        if self._tb is not None:
            self._tb.add_image(tag, grid, step)

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
