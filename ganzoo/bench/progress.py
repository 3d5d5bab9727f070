"""Progress of a bench: runs done, running and failed, and the ETA.

On a terminal a tqdm bar (work done, weighted by each run's estimated cost); otherwise one plain
line per finished run plus a heartbeat line every 30 s. The ETA comes from cost estimates that are
corrected by the measured duration of finished runs (per variant, else by the overall ratio).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from ganzoo.bench.suite import RunSpec, metric_info

HEARTBEAT_S = 30.0


def fmt_duration(seconds: float | None) -> str:
    """``1h02m``, ``3m40s`` or ``12s``."""
    if seconds is None or seconds != seconds:
        return "–"
    s = int(round(max(0.0, seconds)))
    if s >= 3600:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


def _last_step(run_dir: Path) -> int:
    """Step of the last metrics.jsonl row (cheap: reads the file's tail)."""
    path = run_dir / "metrics.jsonl"
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 512))
            lines = fh.read().decode("utf-8", "replace").strip().splitlines()
        return int(json.loads(lines[-1])["step"]) if lines else 0
    except (OSError, ValueError, KeyError, IndexError):
        return 0


def _summary(record: Mapping[str, Any]) -> str:
    parts = []
    for k, v in list(record.get("metrics", {}).items())[:3]:
        if isinstance(v, (int, float)):
            parts.append(f"{k} {v * 100:.1f}%" if metric_info(k).percent else f"{k} {v:.3g}")
    return ", ".join(parts)


class Progress:
    """Tracks the runs of one bench session and shows their progress on ``stream``."""

    def __init__(
        self, specs: Sequence[RunSpec], estimates: Mapping[str, float], *, workers: int, skipped: int = 0,
        quiet: bool = False, stream: IO[str] | None = None, tty: bool | None = None, title: str = "bench",
    ) -> None:
        self.specs = {s.key: s for s in specs}
        self.estimates = dict(estimates)
        self.workers = max(1, workers)
        self.skipped = skipped
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.title = title
        self.t0 = time.monotonic()
        self.running: dict[str, float] = {}  # key -> start time
        self.done: dict[str, dict[str, Any]] = {}
        self.failed = 0
        self.measured: dict[str, float] = {}  # variant -> seconds per run
        self._actual = self._estimated = 0.0
        self._last_line = time.monotonic()
        self._bar = None
        if not quiet and self.tty and specs:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=1000, file=self.stream, desc=title, dynamic_ncols=True, leave=True,
                             bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}")
        if not quiet and not self.tty and specs:
            extra = f" ({skipped} already done)" if skipped else ""
            self._print(f"{title}: {len(specs)} runs to do{extra} on {self.workers} worker(s)")

    # ------------------------------------------------------------------ estimates
    def _fraction(self, key: str) -> float:
        spec = self.specs[key]
        return min(1.0, _last_step(spec.run_dir) / max(1, spec.steps))

    def _projected(self) -> dict[str, float]:
        """Projected total seconds of running runs far enough along (elapsed / fraction done)."""
        now, out = time.monotonic(), {}
        for key, started in self.running.items():
            frac = self._fraction(key)
            if frac >= 0.03 and now - started > 2:
                out[key] = (now - started) / frac
        return out

    def _expected_all(self) -> dict[str, float]:
        """Expected seconds of every run: measured, projected, else the estimate scaled by what was learnt."""
        projected = self._projected()
        per_variant = dict(self.measured)
        actual, estimated = self._actual, self._estimated
        for key, total in projected.items():
            per_variant.setdefault(self.specs[key].variant, total)
            actual += total
            estimated += self.estimates.get(key, 1.0)
        ratio = actual / estimated if estimated > 0 else 1.0
        out = {}
        for key, spec in self.specs.items():
            if key in projected:
                out[key] = projected[key]
            elif spec.variant in per_variant:
                out[key] = per_variant[spec.variant]
            else:
                out[key] = self.estimates.get(key, 1.0) * ratio
        return out

    def fraction_done(self) -> float:
        exp = self._expected_all()
        total = sum(exp.values()) or 1.0
        done = sum(exp[k] for k in self.done) + sum(exp[k] * self._fraction(k) for k in self.running)
        return min(1.0, done / total)

    def eta(self) -> float | None:
        """Seconds left: the remaining work spread over the workers (at least the longest running run)."""
        exp = self._expected_all()
        now = time.monotonic()
        remaining, longest = 0.0, 0.0
        for key in self.specs:
            if key in self.done:
                continue
            if key in self.running:
                left = max(exp[key] * (1 - self._fraction(key)), exp[key] - (now - self.running[key]), 0.0)
                longest = max(longest, left)
                remaining += left
            else:
                remaining += exp[key]
        return max(remaining / self.workers, longest)

    # ------------------------------------------------------------------ events
    def on_event(self, kind: str, spec: RunSpec, record: dict[str, Any] | None) -> None:
        if kind == "start":
            self.running[spec.key] = time.monotonic()
        elif kind == "done" and record is not None:
            started = self.running.pop(spec.key, time.monotonic())
            self.done[spec.key] = record
            status = record.get("status")
            if status == "failed":
                self.failed += 1
            elif status == "completed":
                seconds = float(record.get("seconds") or time.monotonic() - started)
                if not record.get("resumed"):
                    self.measured[spec.variant] = seconds
                    self._actual += seconds
                    self._estimated += self.estimates.get(spec.key, 1.0)
            self._report(spec, record)
        self.tick()

    def _status(self) -> str:
        n, total = len(self.done), len(self.specs)
        return (f"{n}/{total} runs done · {len(self.running)} running · {self.failed} failed · "
                f"{fmt_duration(time.monotonic() - self.t0)} elapsed · ETA {fmt_duration(self.eta())}")

    def _report(self, spec: RunSpec, record: dict[str, Any]) -> None:
        if self.quiet:
            return
        status = record.get("status")
        n = f"[{len(self.done):>{len(str(len(self.specs)))}}/{len(self.specs)}]"
        took = fmt_duration(record.get("seconds"))
        if status == "completed":
            line = f"{n} ok      {spec.key} ({took}): {_summary(record)}"
        elif status == "failed":
            line = f"{n} FAILED  {spec.key} ({took}): {record.get('error', '')}"
        else:
            line = f"{n} stopped {spec.key} at step {record.get('step')}"
        if self._bar is not None:
            self._bar.write(line, file=self.stream)
        else:
            self._print(f"{line} | {self._status()}")

    def tick(self) -> None:
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.n = int(round(self.fraction_done() * 1000))
            self._bar.set_postfix_str(self._status(), refresh=False)
            self._bar.refresh()
        elif time.monotonic() - self._last_line >= HEARTBEAT_S:
            running = ", ".join(f"{k} {_last_step(self.specs[k].run_dir)}/{self.specs[k].steps}" for k in self.running)
            self._print(f"{self.title}: {self._status()}" + (f" | running: {running}" if running else ""))

    def _print(self, line: str) -> None:
        self._last_line = time.monotonic()
        print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.n = int(round(self.fraction_done() * 1000))
            self._bar.set_postfix_str(self._status(), refresh=False)
            self._bar.close()
            self._bar = None
