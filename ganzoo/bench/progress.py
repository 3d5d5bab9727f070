"""Progress of a bench: a tqdm bar weighted by each run's estimated cost (so its rate and time left account
for long and short runs) and one line per finished run. A run stopped by Ctrl-C is not done: it is named
but not counted, and the bar does not advance for it."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import IO, Any

from tqdm.auto import tqdm

from ganzoo.bench.suite import RunSpec
from ganzoo.metrics.catalogue import value_info


def fmt_duration(seconds: float | None) -> str:
    """``1h02m``, ``3m40s`` or ``12s``."""
    if seconds is None or seconds != seconds:
        return "–"
    s = int(round(max(0.0, seconds)))
    return f"{s // 3600}h{(s % 3600) // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


class Progress:
    """``on_done(spec, record)`` advances the bar by the run's cost and prints the run's outcome."""

    def __init__(self, specs: Sequence[RunSpec], costs: Mapping[str, float], *, quiet: bool = False,
                 stream: IO[str] | None = None, title: str = "bench") -> None:
        self.units = {s.key: max(1, round(costs[s.key] * 100)) for s in specs}  # integers: no rounding drift
        self.title, self.n, self.done, self.failed, self.stopped = title, len(specs), 0, 0, 0
        self.bar = tqdm(total=sum(self.units.values()), desc=self._status(), file=stream or sys.stderr,
                        disable=quiet or not specs, dynamic_ncols=True, mininterval=0.5,
                        bar_format="{desc} {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]")

    def _status(self) -> str:
        """``bench quick 3/18 runs · 1 failed · 2 stopped``: no commas, which tqdm adds its own to."""
        counts = [f"{self.failed} failed"] * bool(self.failed) + [f"{self.stopped} stopped"] * bool(self.stopped)
        return " · ".join([f"{self.title} {self.done}/{self.n} runs", *counts])

    def on_done(self, spec: RunSpec, record: Mapping[str, Any]) -> None:
        status, took = record.get("status"), fmt_duration(record.get("seconds"))
        finished = status in ("completed", "failed")
        self.done, self.failed, self.stopped = self.done + finished, self.failed + (status == "failed"), self.stopped + (not finished)
        n = f"[{self.done:>{len(str(self.n))}}/{self.n}]"
        if status == "completed":
            summary = ", ".join(f"{k} {value_info(k).text(v)}" for k, v in list(record.get("metrics", {}).items())[:3])
            line = f"{n} ok      {spec.key} ({took}): {summary}"
        elif status == "failed":
            line = f"{n} FAILED  {spec.key} ({took}): {record.get('error', '')}"
        else:
            step = record.get("step")
            line = f"{' ' * len(n)} stopped {spec.key}" + (f" at step {step}" if step is not None else "") + " (not done: rerun to resume)"
        if not self.bar.disable:
            self.bar.write(line, file=self.bar.fp)
        self.bar.set_description_str(self._status(), refresh=False)
        self.bar.update(self.units.get(spec.key, 0) if finished else 0)

    def close(self) -> None:
        self.bar.close()
