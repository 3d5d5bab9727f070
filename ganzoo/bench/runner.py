"""``ganzoo bench`` as a library call: :func:`run_bench` runs what is not finished of a suite on an executor and
writes the results and the report into the output folder (its layout: docs/bench.md, "The output folder")."""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import os
import platform
import shlex
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import torch
from tqdm.auto import tqdm

from ganzoo import __version__
from ganzoo.bench.executor import LocalExecutor, RayExecutor, local_plan, ray_plan
from ganzoo.bench.report import build_report, fmt_duration
from ganzoo.bench.results import BenchResults, collect, write_results
from ganzoo.bench.suite import RunSpec, Suite, expand_runs, load_suite, validate_components
from ganzoo.bench.worker import is_finished, read_record
from ganzoo.engine import checkpoint as ckpt
from ganzoo.errors import ConfigError, GanzooError
from ganzoo.files import read_json_object, run_dir_lock, write_text
from ganzoo.metrics.catalogue import value_info
from ganzoo.plugins import get_host


@dataclass
class BenchOptions:
    suite: str | Path = "quick"
    seeds: int | None = None
    workers: int | None = None
    device: str | None = None
    out: Path | None = None  # None: bench-out/SUITE
    steps: int | None = None
    quiet: bool = False
    report: bool = True
    stream: IO[str] | None = None
    argv: list[str] = field(default_factory=list)
    executor: str = "local"  # local | ray
    address: str | None = None  # Ray cluster address for executor "ray" (None: RAY_ADDRESS or a local Ray)
    variants: tuple[str, ...] = ()  # glob patterns: run only these variants now (the report covers the whole suite)


@dataclass
class BenchOutcome:
    out: Path
    results: BenchResults | None
    interrupted: bool
    ran: int
    skipped: int
    failed: int
    wall_time: float
    pending: int = 0  # runs of the suite not executed yet (outside --variants)
    report: Path | None = None


class Progress:
    """A tqdm bar advanced by each run's estimated cost (so its rate and time left account for long and short runs)
    and a line per finished run; a run stopped by Ctrl-C is named but not done: not counted, the bar stays."""

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
        self.done, self.failed = self.done + finished, self.failed + (status == "failed")
        self.stopped += not finished
        n = f"[{self.done:>{len(str(self.n))}}/{self.n}]"
        if status == "completed":
            summary = ", ".join(f"{k} {value_info(k).text(v)}" for k, v in list(record.get("metrics", {}).items())[:3])
            line = f"{n} ok      {spec.key} ({took}): {summary}"
        elif status == "failed":
            line = f"{n} FAILED  {spec.key} ({took}): {record.get('error', '')}"
        else:
            at = f" at step {record['step']}" if record.get("step") is not None else ""
            line = f"{' ' * len(n)} stopped {spec.key}{at} (not done: rerun to resume)"
        if not self.bar.disable:
            self.bar.write(line, file=self.bar.fp)
        self.bar.set_description_str(self._status(), refresh=False)
        self.bar.update(self.units.get(spec.key, 0) if finished else 0)

    def close(self) -> None:
        self.bar.close()


def _refuse_shorter_runs(todo: Sequence[RunSpec], out: Path) -> None:
    """Refuse to restart a run already trained beyond the steps asked for (a ``--steps`` smoke test pointed at the
    folder of a full bench), which would lose it."""
    for spec in todo:
        rec = read_record(spec.run_dir)
        found = ckpt.list_checkpoints(spec.run_dir) if spec.run_dir.is_dir() else []
        newest = max([int(rec.get("step") or 0)] + [step for step, _ in found])
        if rec.get("fingerprint") == spec.fingerprint and newest > spec.steps:
            raise GanzooError(
                f"--out {str(out)!r}: run {spec.variant}/seed-{spec.seed} is already at step {newest}, beyond the "
                f"{spec.steps} steps asked for; rerunning would discard it. Use another --out (e.g. for --steps smoke runs)")


def select_variants(suite: Suite, patterns: Sequence[str]) -> set[str]:
    """The suite's variant names matching any of the glob ``patterns`` (all of them when there are none)."""
    names = [v.name for v in suite.variants]
    for pattern in patterns:
        if not fnmatch.filter(names, pattern):
            raise ConfigError(f"--variants {pattern!r} matches no variant of suite {suite.name!r}; "
                              f"its variants: {', '.join(names)}")
    return {n for n in names if not patterns or any(fnmatch.fnmatch(n, p) for p in patterns)}


def run_cost(cfg: Mapping[str, Any]) -> float:
    """A rough relative cost of a run from its resolved config and what its components declare: the longest runs
    start first (a shorter makespan) and the progress bar advances by it."""
    h, run = get_host(), cfg["run"]
    arch = h.architectures.get(run["arch"]).with_options(cfg.get("arch") or {})
    units = 1 + int(cfg["train"].get("n_critic", 1)) * (1.0 if h.losses.get(run["loss"]).batch_norm_ok else 1.6)
    for name in run.get("mitigations") or ():
        units *= h.mitigations.get(name).with_options((cfg.get("mitigation") or {}).get(name) or {}).relative_cost()
    return 4.0 + int(run["steps"]) * units * int(run["batch_size"]) / 256 / 27 * arch.relative_cost()


def _threads(cfg: Mapping[str, Any], threads: int) -> int:
    """Torch threads of a run: the architecture's ``cpu_threads`` when it declares fewer than the bench's share."""
    declared = get_host().architectures.get(cfg["run"]["arch"]).cpu_threads
    return min(threads, declared) if declared else threads


def _machine(device: str, workers: int, threads: int) -> str:
    if device == "cuda":
        names = sorted({torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())})
        return f"{workers} worker(s) on {', '.join(names)}"
    return f"CPU: {workers} worker(s) × {threads} thread(s) ({os.cpu_count()} cores, {platform.machine()})"


def run_bench(opts: BenchOptions) -> BenchOutcome:
    """Run (or resume) a suite and write its results and report."""
    t0, stream, suite = time.perf_counter(), opts.stream or sys.stderr, load_suite(opts.suite)
    for flag, value in (("--seeds", opts.seeds), ("--steps", opts.steps)):
        if value is not None and value < 1:
            raise ConfigError(f"{flag} {value}: expected a positive number")
    if opts.executor not in ("local", "ray"):
        raise ConfigError(f"--executor {opts.executor!r}: expected local or ray")
    resolved = validate_components(suite, opts.steps)
    selected = select_variants(suite, opts.variants)
    seeds = tuple(range(opts.seeds)) if opts.seeds else tuple(suite.seeds)
    out = Path(opts.out) if opts.out else Path("bench-out") / suite.name
    requested, n_runs = opts.device or suite.device, len(suite.variants) * len(seeds)
    if requested not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"--device {requested!r}: expected auto, cpu or cuda")
    if opts.executor == "ray":  # resources of the Ray cluster, not of this machine
        device, workers, threads = ray_plan(requested, opts.workers, n_runs, opts.address)
    else:
        device, workers, threads = local_plan(requested, opts.workers, n_runs)
    specs = expand_runs(suite, out, seeds=seeds, steps=opts.steps, device=device)

    with run_dir_lock(out, "bench", what="bench output folder"):  # one bench at a time per folder
        old = read_json_object(out / "protocol.json").get("suite", {}).get("name")
        if old and old != suite.name:
            raise GanzooError(f"--out {str(out)!r} holds results of suite {old!r}, not {suite.name!r}; choose another --out")
        protocol = {
            "suite": {"name": suite.name, "description": suite.description, "source": suite.source},
            "seeds": list(seeds), "device": device, "workers": workers, "threads_per_worker": threads,
            "steps_override": opts.steps, "metrics": list(suite.metrics or ()), "primary_metric": suite.primary_metric,
            "primary_direction": suite.primary_direction, "eval_samples": suite.eval_samples, "protocol": suite.protocol,
            "ganzoo_version": __version__, "python": platform.python_version(),
            "torch": torch.__version__, "machine": _machine(device, workers, threads),
            "variants": [{"name": v.name, "dataset": v.dataset, "arch": v.arch, "loss": v.loss,
                          "mitigations": list(v.mitigations or ()), "steps": opts.steps or v.steps,
                          "metrics": list(v.metrics or ()), "set": dict(v.sets), "config": resolved[v.name]}
                         for v in suite.variants],
        }
        write_text(out / "suite.toml", f"# suite {suite.name} ({suite.source})\n" + suite.to_toml())
        write_text(out / "protocol.json", json.dumps(protocol, indent=2, default=str) + "\n")

        specs = [dataclasses.replace(s, threads=_threads(resolved[s.variant], threads)) for s in specs]
        todo = [s for s in specs if s.variant in selected and not is_finished(s)]
        _refuse_shorter_runs(todo, out)
        costs = {s.key: run_cost({**resolved[s.variant], "run": {**resolved[s.variant]["run"], "steps": s.steps}}) for s in todo}
        todo.sort(key=lambda s: -costs[s.key])  # longest first: a shorter makespan
        deferred = sum(s.variant not in selected for s in specs)
        skipped = len(specs) - len(todo) - deferred
        if not opts.quiet:
            later = f", {deferred} outside --variants" if deferred else ""
            print(f"bench {suite.name}: {len(suite.variants)} variants × {len(seeds)} seeds = {len(specs)} runs "
                  f"({skipped} already done{later}) → {out}", file=stream, flush=True)
        executor = (RayExecutor(opts.workers, device, threads, address=opts.address) if opts.executor == "ray"
                    else LocalExecutor(workers, device))
        progress = Progress(todo, costs, quiet=opts.quiet, stream=stream, title=f"bench {suite.name}")
        try:
            records = executor.run(todo, progress.on_done) if todo else {}
        finally:
            progress.close()
        res = collect(suite, specs, out, protocol)
        res.wall_time = time.perf_counter() - t0
        write_results(res, out)
        outcome = BenchOutcome(out, res, executor.interrupted, len(records), skipped,
                               sum(r.get("status") == "failed" for r in records.values()), res.wall_time,
                               pending=sum(r["status"] == "missing" for r in res.runs))
        if not executor.interrupted and opts.report:
            wall = fmt_duration(time.perf_counter() - t0) + (f" ({skipped} runs reused)" if skipped else "")
            command = "ganzoo bench " + (shlex.join(opts.argv) if opts.argv else f"--suite {opts.suite}")
            meta: dict[str, Any] = {"wall": wall, "command": command}
            outcome.report = build_report(res, out, meta)
            for problem in meta["figure_problems"]:
                print(f"warning: figure not drawn: {problem}", file=stream, flush=True)
        outcome.wall_time = time.perf_counter() - t0
        return outcome
