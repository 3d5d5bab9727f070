"""``ganzoo bench``: train GAN variants over seeds and write a comparison report."""

from __future__ import annotations

import sys
from pathlib import Path

import click


def _list_suites() -> None:
    from ganzoo.bench.suite import builtin_suite_names, load_suite

    suites = [load_suite(n) for n in builtin_suite_names()]
    width = max(len(s.name) for s in suites)
    click.echo("built-in suites (ganzoo bench --suite NAME):")
    for s in suites:
        grid = f"{len(s.variants)} variants × {len(s.seeds)} seeds = {len(s.variants) * len(s.seeds)} runs"
        click.echo(f"  {s.name:<{width}}  {s.description}")
        click.echo(f"  {'':<{width}}  {grid}; datasets: {', '.join(s.datasets)}; est. {s.estimate or '?'}")


@click.command("bench")
@click.option("--suite", "suite", default="quick", show_default=True, metavar="NAME|FILE.toml",
              help="Built-in suite name (see --list) or a suite TOML file.")
@click.option("--seeds", type=int, help="Number of seeds (0..K-1), overriding the suite's.")
@click.option("--workers", type=int, help="Parallel runs (default: CPU cores on CPU, one per GPU on CUDA).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Where to train (default: the suite's, usually auto).")
@click.option("--out", type=click.Path(path_type=Path), help="Output folder (default: bench-out/<suite>).")
@click.option("--steps", type=int, help="Override every variant's steps (for smoke runs).")
@click.option("--variants", "variants", metavar="GLOB[,GLOB...]",
              help="Run only the variants matching these patterns now (e.g. 'ring8-*,*-gan'); runs of the others "
              "already in --out are kept and the report covers the whole suite. Rerun without it to complete the rest.")
@click.option("--list", "list_only", is_flag=True, help="List the built-in suites and exit.")
@click.option("--quiet", is_flag=True, help="No progress display.")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Where runs execute: worker processes on this machine, or Ray tasks (pip install 'ganzoo[ray]').")
@click.option("--address", metavar="ADDR", help="Ray cluster for --executor ray: auto, HOST:PORT or ray://HOST:PORT "
              "(default: RAY_ADDRESS, else a local Ray). On several nodes --out must be on a filesystem every node sees.")
def command(suite: str, seeds: int | None, workers: int | None, device: str | None, out: Path | None,
            steps: int | None, variants: str | None, list_only: bool, quiet: bool, executor: str, address: str | None) -> None:
    """Compare GAN variants over seeds: runs a suite in parallel and writes results.json, results.csv,
    report.md and a self-contained report.html into --out.

    Rerunning the same command resumes: finished runs are skipped, failed or interrupted ones are
    retried (from their last checkpoint). Exit status: 0 when every run completed, 1 when some runs
    failed (listed in the report), 2 for a bad suite file or option, 130 when interrupted.
    """
    if list_only:
        _list_suites()
        return
    from ganzoo.bench.runner import BenchOptions, run_bench

    if address and executor != "ray":
        raise click.UsageError("--address needs --executor ray")
    opts = BenchOptions(suite=suite, seeds=seeds, workers=workers, device=device, out=out, steps=steps, quiet=quiet,
                        executor=executor, address=address,
                        variants=tuple(p.strip() for p in (variants or "").split(",") if p.strip()),
                        argv=sys.argv[2:] if len(sys.argv) > 1 and sys.argv[1] == "bench" else [])
    outcome = run_bench(opts)
    if outcome.interrupted:
        click.echo(f"Interrupted: finished runs are kept in {outcome.out}; rerun the same command to resume.", err=True)
        sys.exit(130)
    click.echo(f"Report: {outcome.report}  ({outcome.ran} runs executed, {outcome.skipped} reused, "
               f"{outcome.wall_time:.0f} s)")
    if outcome.pending:
        click.echo(f"{outcome.pending} run(s) of the suite not run yet (outside --variants): rerun without --variants "
                   "to complete the suite.")
    if outcome.failed or (outcome.results and outcome.results.failures):
        n = len(outcome.results.failures) if outcome.results else outcome.failed
        click.echo(f"Warning: {n} run(s) failed; see the Failures section of the report.", err=True)
        sys.exit(1)
