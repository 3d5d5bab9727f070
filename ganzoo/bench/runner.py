"""``ganzoo bench`` as a library call: :func:`run_bench` loads a suite, runs what is not finished on an
executor (local processes or Ray tasks), and writes results and the report into the output folder
(its layout: docs/bench.md, "The output folder")."""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import json
import os
import platform
import shlex
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import filelock
import torch

from ganzoo import __version__
from ganzoo import config as config_mod
from ganzoo.bench.executor import LocalExecutor
from ganzoo.bench.progress import Progress, fmt_duration
from ganzoo.bench.ray_executor import RayExecutor, device_plan
from ganzoo.bench.report import build_report, now_text
from ganzoo.bench.results import BenchResults, collect, write_results
from ganzoo.bench.suite import RunSpec, Suite, expand_runs, load_suite, user_tree, validate_components
from ganzoo.bench.worker import is_finished, read_json, read_record
from ganzoo.engine import checkpoint as ckpt
from ganzoo.errors import ConfigError, GanzooError
from ganzoo.files import write_text
from ganzoo.plugins import get_host

DEFAULT_OUT_ROOT = Path("bench-out")


@dataclass
class BenchOptions:
    suite: str | Path = "quick"
    seeds: int | None = None
    workers: int | None = None
    device: str | None = None
    out: Path | None = None
    steps: int | None = None
    quiet: bool = False
    report: bool = True
    stream: IO[str] | None = None
    argv: list[str] = field(default_factory=list)
    executor: str = "local"  # local | ray (ganzoo.bench.ray_executor)
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


def default_out(suite: Suite) -> Path:
    return DEFAULT_OUT_ROOT / suite.name


@contextlib.contextmanager
def _lock(out: Path) -> Iterator[None]:
    """One bench at a time per output folder (a file lock: POSIX and Windows)."""
    out.mkdir(parents=True, exist_ok=True)
    try:
        with filelock.FileLock(out / ".bench.lock", timeout=0):
            yield
    except filelock.Timeout:
        raise GanzooError(f"another ganzoo bench is writing to {str(out)!r}; wait for it or choose another --out") from None


def _device_plan(device: str, workers: int | None, n_runs: int) -> tuple[str, int, int, list[int]]:
    """(run device, workers, torch threads per worker, GPU ids)."""
    cpus = os.cpu_count() or 1
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device is available; use --device cpu or auto")
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    gpus = list(range(torch.cuda.device_count())) if use_cuda else []
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers {workers}: expected a positive number")
    if workers is None:
        workers = len(gpus) if use_cuda else min(cpus, 32)
    workers = max(1, min(workers, max(1, n_runs)))
    threads = max(1, cpus // workers)
    env_cap = os.environ.get("OMP_NUM_THREADS", "")
    if env_cap.isdigit() and int(env_cap) > 0:
        threads = min(threads, int(env_cap))
    return ("cuda" if use_cuda else "cpu"), workers, threads, gpus


def _refuse_shorter_runs(todo: Sequence[RunSpec], out: Path) -> None:
    """A run already trained beyond the steps now asked for (e.g. a ``--steps`` smoke test pointed at the
    folder of a full bench) would be restarted from scratch, losing it: refuse instead."""
    for spec in todo:
        rec = read_record(spec.run_dir)
        if rec.get("fingerprint") != spec.fingerprint:
            continue
        found = ckpt.list_checkpoints(spec.run_dir) if spec.run_dir.is_dir() else []
        newest = max([int(rec.get("step") or 0)] + [step for step, _ in found])
        if newest > spec.steps:
            raise GanzooError(
                f"--out {str(out)!r}: run {spec.variant}/seed-{spec.seed} is already at step {newest}, beyond the "
                f"{spec.steps} steps asked for; rerunning would discard it. Use another --out (e.g. for --steps smoke runs)")


def select_variants(suite: Suite, patterns: Sequence[str]) -> set[str]:
    """The suite's variant names matching any of the glob ``patterns`` (all of them when there are none)."""
    names = [v.name for v in suite.variants]
    if not patterns:
        return set(names)
    chosen: set[str] = set()
    for pattern in patterns:
        hits = fnmatch.filter(names, pattern)
        if not hits:
            raise ConfigError(f"--variants {pattern!r} matches no variant of suite {suite.name!r}; "
                              f"its variants: {', '.join(names)}")
        chosen.update(hits)
    return chosen


def run_cost(cfg: Mapping[str, Any], host: Any = None) -> float:
    """A rough relative cost of a run from its resolved config and what its components declare: the
    longest runs start first (a shorter makespan) and the progress bar advances by it."""
    h, run = host or get_host(), cfg["run"]
    arch = h.architectures.get(run["arch"]).with_options(cfg.get("arch") or {})
    units = 1 + int(cfg["train"].get("n_critic", 1)) * (1.0 if h.losses.get(run["loss"]).batch_norm_ok else 1.6)
    for name in run.get("mitigations") or ():
        units *= h.mitigations.get(name).with_options((cfg.get("mitigation") or {}).get(name) or {}).relative_cost()
    return 4.0 + int(run["steps"]) * units * int(run["batch_size"]) / 256 / 27 * arch.relative_cost()


def _threads(cfg: Mapping[str, Any], threads: int) -> int:
    """Torch threads of a run: the architecture's ``cpu_threads`` when it declares fewer than the bench's share."""
    declared = get_host().architectures.get(cfg["run"]["arch"]).cpu_threads
    return min(threads, declared) if declared else threads


def _eval_protocol(res: BenchResults) -> str:
    """How each dataset's modes were counted, from the evaluation records."""
    parts, seen = [], set()
    for r in res.runs:
        ev, ds = r.get("eval") or {}, r["dataset"]
        if not (d := ev.get("modes")) or ds in seen:
            continue
        seen.add(ds)
        n = f"{d.get('num_generated') or d.get('num_samples') or 0:,} samples per run (seed {ev.get('seed', 12345)})"
        if d.get("protocol") == "2d":
            parts.append(f"{ds}: 2D protocol, {n}, high quality = within {d.get('threshold_std', 3):g} std of the nearest "
                         f"of {d.get('num_modes')} centres, reverse KL of the high-quality histogram to uniform (nats)")
        elif d.get("classifier_accuracy") is not None:
            parts.append(f"{ds}: {n}, modes assigned by {d.get('extractor') or d.get('classifier')} (held-out accuracy "
                         f"{d['classifier_accuracy'] * 100:.1f}%)")
    return "; ".join(parts) + "." if parts else "metrics as listed in protocol.json."


def _command(opts: BenchOptions) -> str:
    return "ganzoo bench " + (" ".join(shlex.quote(a) for a in opts.argv) if opts.argv else f"--suite {opts.suite}")


def _device_text(device: str, workers: int, threads: int) -> str:
    if device == "cuda":
        names = sorted({torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())})
        return f"{workers} worker(s) on {', '.join(names)}"
    return f"CPU: {workers} worker(s) × {threads} thread(s) ({os.cpu_count()} cores, {platform.machine()})"


def run_bench(opts: BenchOptions) -> BenchOutcome:
    """Run (or resume) a suite and write its results and report. See the module docstring for the layout."""
    t0 = time.perf_counter()
    stream = opts.stream or sys.stderr
    suite = load_suite(opts.suite)
    for flag, value in (("--seeds", opts.seeds), ("--steps", opts.steps)):
        if value is not None and value < 1:
            raise ConfigError(f"{flag} {value}: expected a positive number")
    if opts.executor not in ("local", "ray"):
        raise ConfigError(f"--executor {opts.executor!r}: expected local or ray")
    validate_components(suite)
    selected = select_variants(suite, opts.variants)
    seeds = tuple(range(opts.seeds)) if opts.seeds else tuple(suite.seeds)
    out = Path(opts.out) if opts.out else default_out(suite)
    device_req = opts.device or suite.device
    if device_req not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"--device {device_req!r}: expected auto, cpu or cuda")
    n_runs = len(suite.variants) * len(seeds)
    if opts.executor == "ray":  # resources of the Ray cluster, not of this machine
        device, workers, threads, gpus = device_plan(device_req, opts.workers, n_runs, opts.address)
    else:
        device, workers, threads, gpus = _device_plan(device_req, opts.workers, n_runs)
    specs = expand_runs(suite, out, seeds=seeds, steps=opts.steps, device=device)

    with _lock(out):
        old = read_json(out / "protocol.json").get("suite", {}).get("name")
        if old and old != suite.name:
            raise GanzooError(f"--out {str(out)!r} holds results of suite {old!r}, not {suite.name!r}; choose another --out")
        resolved = {v.name: config_mod.resolve(user_tree(suite, v, seed=suite.seeds[0], steps=opts.steps or v.steps,
                                                          device="cpu")).to_dict() for v in suite.variants}
        protocol = {
            "suite": {"name": suite.name, "description": suite.description, "source": suite.source},
            "seeds": list(seeds), "device": device, "workers": workers, "threads_per_worker": threads,
            "steps_override": opts.steps, "metrics": list(suite.metrics or ()), "primary_metric": suite.primary_metric,
            "primary_direction": suite.primary_direction, "eval_samples": suite.eval_samples, "protocol": suite.protocol,
            "ganzoo_version": __version__, "python": platform.python_version(),
            "torch": torch.__version__, "machine": _device_text(device, workers, threads),
            "variants": [{"name": v.name, "dataset": v.dataset, "arch": v.arch, "loss": v.loss,
                          "mitigations": list(v.mitigations or ()), "steps": opts.steps or v.steps, "metrics": list(v.metrics or ()),
                          "set": dict(v.sets), "config": resolved[v.name]} for v in suite.variants],
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
                    else LocalExecutor(workers, device, gpus))
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
            meta = {
                "generated": now_text(), "version": __version__, "device": protocol["machine"],
                "completed": sum(r["status"] == "completed" for r in res.runs), "total": len(res.runs),
                "failed": len(res.failures), "pending": outcome.pending, "seeds": ", ".join(map(str, seeds)),
                "n_seeds": len(seeds), "wall": fmt_duration(time.perf_counter() - t0) + (f" ({skipped} runs reused)" if skipped else ""),
                "command": _command(opts), "eval_protocol": _eval_protocol(res), "workers": workers, "threads": threads,
            }
            outcome.report = build_report(res, out, meta)
            for problem in meta["figure_problems"]:
                print(f"warning: figure not drawn: {problem}", file=stream, flush=True)
        outcome.wall_time = time.perf_counter() - t0
        return outcome
