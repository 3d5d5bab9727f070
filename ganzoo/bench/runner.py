"""``ganzoo bench`` as a library call: :func:`run_bench` loads a suite, runs what is not finished on a
worker pool, and writes results and the report into the output folder.

Output folder layout::

    OUT/
      suite.toml             the suite file as given (--seeds/--steps/--device overrides: see protocol.json)
      protocol.json          seeds, steps, device, workers, eval protocol, resolved config per variant
      runs/<variant>/seed-<k>/   ordinary run directories, plus bench.json (record) and bench.log
      results.json, results.csv  one row per run and one aggregated row per variant
      figures/*.png          the report's figures
      report.md, report.html the report (the HTML embeds every figure)
"""

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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ganzoo.bench.results import BenchResults, collect, write_results
from ganzoo.bench.suite import RunSpec, Suite, expand_runs, load_suite, user_tree, validate_components
from ganzoo.errors import ConfigError, GanzooError

DEFAULT_OUT_ROOT = Path("bench-out")
SECONDS_PER_UNIT = 1 / 540
"""Rough CPU seconds of one D or G update of the default MLP at batch 256 (for ETA and scheduling)."""


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
    """One bench at a time per output folder."""
    import fcntl

    out.mkdir(parents=True, exist_ok=True)
    fh = open(out / ".bench.lock", "w")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise GanzooError(f"another ganzoo bench is writing to {str(out)!r}; wait for it or choose another --out") from None
        yield
    finally:
        fh.close()


def _device_plan(device: str, workers: int | None, n_runs: int) -> tuple[str, int, int, list[int]]:
    """(run device, workers, torch threads per worker, GPU ids)."""
    import torch

    cpus = os.cpu_count() or 1
    if device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"--device {device!r}: expected auto, cpu or cuda")
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


def _resolved_variants(suite: Suite, steps: int | None) -> dict[str, dict[str, Any]]:
    from ganzoo import config as config_mod

    out = {}
    for v in suite.variants:
        tree = user_tree(suite, v, seed=suite.seeds[0], steps=steps or v.steps, device="cpu")
        out[v.name] = config_mod.resolve(tree).to_dict()
    return out


def _refuse_shorter_runs(todo: Sequence[RunSpec], out: Path) -> None:
    """A run already trained beyond the steps now asked for (e.g. a ``--steps`` smoke test pointed at the
    folder of a full bench) would be restarted from scratch, losing it: refuse instead."""
    from ganzoo.bench.worker import read_record
    from ganzoo.engine import checkpoint as ckpt

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


def estimate_seconds(cfg: Mapping[str, Any]) -> float:
    """A rough single-thread CPU duration of a run from its resolved config (for scheduling the longest runs
    first and for the first ETA; the progress display corrects it with measured times)."""
    run, train = cfg["run"], cfg["train"]
    critic = int(train.get("n_critic", 1)) * (1.6 if "gp_weight" in (cfg.get("loss") or {}) else 1.0)
    units = critic + 1
    mit = cfg.get("mitigation", {}) or {}
    if "unrolled" in mit:
        k = int(mit["unrolled"].get("steps", 5))
        units += k * (3 if mit["unrolled"].get("second_order", True) else 1.5)
    arch = cfg.get("arch", {})
    if run["arch"] == "mlp":
        factor = (float(arch.get("hidden", 128)) / 128) ** 2
    else:
        factor = 20.0 * (float(arch.get("width", 32)) / 32) ** 2
    return 4.0 + int(run["steps"]) * units * int(run["batch_size"]) / 256 * SECONDS_PER_UNIT * factor


def _eval_protocol(res: BenchResults) -> str:
    parts = []
    seen = set()
    for r in res.runs:
        d = (r.get("eval") or {}).get("modes")
        ds = r["dataset"]
        if not d or ds in seen:
            continue
        seen.add(ds)
        if d.get("protocol") == "2d":
            parts.append(f"{ds}: 2D protocol, {d.get('num_samples', 2500):,} samples per run, high quality = within "
                         f"{d.get('threshold_std', 3):g} std of the nearest of {d.get('num_modes')} centres, reverse KL of "
                         "the high-quality histogram to uniform (nats)")
        else:
            acc = d.get("classifier_accuracy")
            parts.append(f"{ds}: {d.get('num_samples', 0):,} samples per run, modes assigned by {d.get('classifier')} "
                         f"(held-out accuracy {acc * 100:.1f}%)" if acc is not None else "")
    return "; ".join(p for p in parts if p) + ("." if parts else "metrics as listed in protocol.json.")


def _command(opts: BenchOptions) -> str:
    if opts.argv:
        return "ganzoo bench " + " ".join(shlex.quote(a) for a in opts.argv)
    return f"ganzoo bench --suite {opts.suite}"


def build_report(res: BenchResults, out: Path, meta: dict[str, Any]) -> Path:
    """Figures, ``report.md`` and ``report.html`` in ``out``; returns the HTML path."""
    from ganzoo.bench import plots
    from ganzoo.bench.evaluation import GRID_FILE
    from ganzoo.bench.report import Figure, fmt_value, render_html, render_markdown
    from ganzoo.bench.suite import metric_info
    from ganzoo.files import write_bytes, write_text

    figures: list[Figure] = []
    galleries: dict[str, list[tuple[str, str, bytes]]] = {}
    problems: list[str] = meta.setdefault("figure_problems", [])

    def draw(what: str, make: Callable[..., Any], *args: Any) -> Any:
        """``make(*args)``; a figure that fails is left out of the report and named in it, the rest go on."""
        try:
            return make(*args)
        except Exception as exc:  # a plotting bug must not cost the results of a finished bench
            problems.append(f"{what}: {type(exc).__name__}: {exc}")
            return None

    for dataset, group in res.by_dataset().items():
        metrics = res.metrics_of(dataset)
        png = draw(f"metrics-{dataset}", plots.metrics_figure, res, dataset, metrics)
        if png:
            figures.append(Figure(
                f"metrics-{dataset}", f"{dataset}: metrics per variant",
                "Bars: mean over seeds; black whiskers: ± 1 sample std; dots: individual seeds"
                + ("; white diamonds: the published value for the matching model." if any(
                    p.dataset == dataset and p.variant for p in res.suite.published) else ".")
                + " Variants in rank order (best at the top).", png, "metrics", dataset))
        png = draw(f"samples-{dataset}", plots.samples_2d_figure, res, dataset, out)
        if png:
            figures.append(Figure(
                f"samples-{dataset}", f"{dataset}: generated samples",
                "Each panel: the evaluated samples of one run (rows: variants in rank order; columns: seeds), "
                "coloured when high quality (within 3 std of a centre), grey otherwise; light blue: real data; +: mixture centres.",
                png, "samples", dataset))
        else:
            items = []
            for v in group:
                for r in v.runs:
                    p = out / r["run_dir"] / GRID_FILE
                    if r["status"] == "completed" and p.exists():
                        m = r["metrics"]
                        bits = [f"seed {r['seed']}"] + [f"{metric_info(k).label} {fmt_value(k, m[k])}"
                                                        for k in list(m)[:2] if m.get(k) is not None]
                        items.append((v.label, " · ".join(bits), p.read_bytes()))
                        break
            if items:
                first = next(out / r["run_dir"] for v in group for r in v.runs if (out / r["run_dir"] / GRID_FILE).exists())
                real = draw(f"real-images-{dataset}", plots.real_images_png, dataset, first)
                if real:
                    items.insert(0, ("real data", "training images, for comparison", real))
                galleries[dataset] = items
        loss_png = draw(f"losses-{dataset}", plots.loss_figure, res, dataset, out)
        if loss_png:
            figures.append(Figure(
                f"losses-{dataset}", f"{dataset}: training losses",
                "Discriminator (blue) and generator (orange) loss per logging interval; one line style per seed. "
                "Losses of different objectives are not comparable with each other.", loss_png, "losses", dataset))
    png = draw("speed", plots.throughput_figure, res)
    if png:
        figures.append(Figure("speed", "Training time per run",
                              "Mean ± std over seeds of the training wall time of one run (this machine, "
                              f"{meta['workers']} parallel workers × {meta['threads']} threads).", png, "speed"))
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    for f in figures:
        write_bytes(fig_dir / f"{f.key}.png", f.png)
    drawn = {f"{f.key}.png" for f in figures}
    for stale in fig_dir.glob("*.png"):  # figures of an earlier report that this one does not have
        if stale.name not in drawn:
            stale.unlink()
    write_text(out / "report.md", render_markdown(res, figures, meta))
    html_path = out / "report.html"
    write_text(html_path, render_html(res, figures, meta, plots.variant_colors(res), galleries))
    return html_path


def _make_readable(out: Path) -> None:
    """Atomic writes create 0600 files; give the report files the usual permissions (by umask)."""
    mask = os.umask(0)
    os.umask(mask)
    for name in ("suite.toml", "protocol.json", "results.json", "results.csv", "report.md", "report.html"):
        with contextlib.suppress(OSError):
            os.chmod(out / name, 0o666 & ~mask)
    for f in (out / "figures").glob("*.png"):
        with contextlib.suppress(OSError):
            os.chmod(f, 0o666 & ~mask)


def _device_text(device: str, workers: int, threads: int) -> str:
    if device == "cuda":
        import torch

        names = sorted({torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())})
        return f"{workers} worker(s) on {', '.join(names)}"
    return f"CPU: {workers} worker(s) × {threads} thread(s) ({os.cpu_count()} cores, {platform.machine()})"


def run_bench(opts: BenchOptions) -> BenchOutcome:
    """Run (or resume) a suite and write its results and report. See the module docstring for the layout."""
    from ganzoo import __version__
    from ganzoo.bench.executor import WorkerPool, WorkerSettings
    from ganzoo.bench.progress import Progress, fmt_duration
    from ganzoo.bench.report import now_text
    from ganzoo.bench.worker import is_finished
    from ganzoo.files import write_text

    t0 = time.perf_counter()
    stream = opts.stream or sys.stderr
    suite = load_suite(opts.suite)
    if opts.seeds is not None and opts.seeds < 1:
        raise ConfigError(f"--seeds {opts.seeds}: expected a positive number")
    if opts.steps is not None and opts.steps < 1:
        raise ConfigError(f"--steps {opts.steps}: expected a positive number")
    validate_components(suite)
    selected = select_variants(suite, opts.variants)
    seeds = tuple(range(opts.seeds)) if opts.seeds else suite.seeds
    out = Path(opts.out) if opts.out else default_out(suite)
    device_req = opts.device or suite.device
    specs_probe = expand_runs(suite, out, seeds=seeds, steps=opts.steps, device=device_req)
    if opts.executor == "ray":  # resources of the Ray cluster, not of this machine
        from ganzoo.bench.ray_executor import device_plan as ray_device_plan

        device, workers, threads, gpus = ray_device_plan(device_req, opts.workers, len(specs_probe), opts.address)
    elif opts.executor != "local":
        raise ConfigError(f"--executor {opts.executor!r}: expected local or ray")
    else:
        device, workers, threads, gpus = _device_plan(device_req, opts.workers, len(specs_probe))
    specs = expand_runs(suite, out, seeds=seeds, steps=opts.steps, device=device)

    with _lock(out):
        prev = out / "protocol.json"
        if prev.exists():
            with contextlib.suppress(json.JSONDecodeError, OSError):
                old = json.loads(prev.read_text(encoding="utf-8")).get("suite", {}).get("name")
                if old and old != suite.name:
                    raise GanzooError(f"--out {str(out)!r} holds results of suite {old!r}, not {suite.name!r}; choose another --out")
        resolved = _resolved_variants(suite, opts.steps)
        protocol = {
            "suite": {"name": suite.name, "description": suite.description, "source": suite.source},
            "seeds": list(seeds), "device": device, "workers": workers, "threads_per_worker": threads,
            "steps_override": opts.steps, "metrics": list(suite.metrics), "primary_metric": suite.primary_metric,
            "primary_direction": suite.primary_direction, "eval_samples": suite.eval_samples, "protocol": suite.protocol,
            "ganzoo_version": __version__, "python": platform.python_version(),
            "torch": __import__("torch").__version__, "machine": _device_text(device, workers, threads),
            "variants": [{"name": v.name, "dataset": v.dataset, "arch": v.arch, "loss": v.loss,
                          "mitigations": list(v.mitigations), "steps": opts.steps or v.steps, "metrics": list(v.metrics),
                          "set": dict(v.sets), "config": resolved[v.name]} for v in suite.variants],
        }
        write_text(out / "suite.toml", f"# suite {suite.name} ({suite.source})\n" + suite.to_toml())
        write_text(out / "protocol.json", json.dumps(protocol, indent=2, default=str) + "\n")

        # Tiny MLPs gain nothing from more threads, and spinning OpenMP threads slow them down badly on a busy machine.
        specs = [dataclasses.replace(s, threads=1 if resolved[s.variant]["run"]["arch"] == "mlp" else threads) for s in specs]
        todo = [s for s in specs if s.variant in selected and not is_finished(s)]
        _refuse_shorter_runs(todo, out)
        estimates = {s.key: estimate_seconds({**resolved[s.variant], "run": {**resolved[s.variant]["run"], "steps": s.steps}})
                     for s in specs}
        todo.sort(key=lambda s: -estimates[s.key])  # longest first: a shorter makespan on the pool
        deferred = sum(s.variant not in selected for s in specs)
        skipped = len(specs) - len(todo) - deferred
        if not opts.quiet:
            later = f", {deferred} outside --variants" if deferred else ""
            print(f"bench {suite.name}: {len(suite.variants)} variants × {len(seeds)} seeds = {len(specs)} runs "
                  f"({skipped} already done{later}) → {out}", file=stream, flush=True)
        progress = Progress(todo, estimates, workers=workers, skipped=skipped, quiet=opts.quiet, stream=stream,
                            title=f"bench {suite.name}")
        if opts.executor == "ray":
            from ganzoo.bench.ray_executor import RayPool

            pool = RayPool(opts.workers, WorkerSettings(threads=threads, device=device), address=opts.address)
        else:
            pool = WorkerPool(workers, WorkerSettings(threads=threads, device=device, gpus=gpus))
        try:
            records = pool.run(todo, progress.on_event, progress.tick) if todo else {}
        finally:
            progress.close()
        failed = sum(r.get("status") == "failed" for r in records.values())
        wall = time.perf_counter() - t0
        res = collect(suite, specs, out, protocol)
        res.wall_time = wall
        write_results(res, out)
        outcome = BenchOutcome(out, res, pool.interrupted, len(records), skipped, failed, wall,
                               pending=sum(r["status"] == "missing" for r in res.runs))
        if pool.interrupted or not opts.report:
            _make_readable(out)
            return outcome
        meta = {
            "generated": now_text(), "version": __version__,
            "device": protocol["machine"], "completed": sum(r["status"] == "completed" for r in res.runs),
            "total": len(res.runs), "failed": len(res.failures), "pending": outcome.pending, "seeds": ", ".join(map(str, seeds)),
            "n_seeds": len(seeds), "wall": fmt_duration(time.perf_counter() - t0) + (f" ({skipped} runs reused)" if skipped else ""),
            "compute": fmt_duration(sum(r["seconds"] or 0 for r in res.runs)),
            "command": _command(opts), "eval_protocol": _eval_protocol(res), "workers": workers, "threads": threads,
        }
        outcome.report = build_report(res, out, meta)
        for problem in meta["figure_problems"]:
            print(f"warning: figure not drawn: {problem}", file=stream, flush=True)
        _make_readable(out)
        outcome.wall_time = time.perf_counter() - t0
        return outcome
