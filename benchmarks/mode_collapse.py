"""Mode collapse on 2D mixtures: the VEEGAN / GDPP ring and grid protocol, published rows beside ours.

Protocol (Metz et al. / VEEGAN / GDPP): G: z (256-d normal) -> 128 tanh -> 128 tanh -> 2;
D: 2 -> 128 tanh -> 128 tanh -> 1; Adam beta1 0.5, lr D 1e-4, lr G 1e-3; batch 512; 25k generator
iterations (``--steps`` overrides); 2,500 samples per run for the metrics (``mode_metrics_2d``:
high quality = within 3 std of the nearest centre; a mode is captured when it has a high-quality
sample; reverse KL = KL(high-quality histogram || uniform), nats).

Variants: ``gan`` (ns-gan, no mitigation), ``unrolled5``, ``pacgan2`` / ``pacgan3`` / ``pacgan4``
(batch 512, except m = 3: batch 513 since 3 does not divide 512), ``minibatch-discrimination``,
``spectral-norm``, ``wgan-gp`` (the WGAN-GP defaults: 5 critic steps, lr 1e-4, betas (0, 0.9), GP 10,
on the same networks), plus ``ganzoo-best`` (our tuned setting; see ``VARIANTS``).

Each run is driven through the library (``start_run`` then ``load_generator(...).sample``) in a
process pool (one torch thread per worker). A finished run keeps ``result.json`` in its run
directory and is skipped when the script is run again with the same ``--out``.

    python benchmarks/mode_collapse.py [--steps 25000] [--seeds 5] [--variants gan,pacgan2,...]
        [--datasets ring8,grid25] [--workers 2] [--out runs/mode-collapse] [--write-results]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from ganzoo.bench.suite import load_suite
from ganzoo.config import set_dotted

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "RESULTS.md"
IMAGES = REPO / "docs" / "images" / "mode-collapse"
START, END = "<!-- mode-collapse:start -->", "<!-- mode-collapse:end -->"
NUM_SAMPLES = 2_500
SAMPLE_SEED = 12_345

# The protocol's settings and the published rows are the bench suite's (one source of truth).
SUITE = load_suite("mode-collapse-2d")
ERROR_LABELS = {"modes": "modes", "high_quality": "HQ", "reverse_kl": "KL"}
LOGGING_KEYS = ("train.log_every", "train.sample_every", "train.checkpoint_every")
PROTOCOL_SET: dict[str, Any] = {k: v for k, v in SUITE.sets.items() if k not in LOGGING_KEYS}
WGAN_GP_SET: dict[str, Any] = dict(SUITE.variant("ring8-wgan-gp").sets)

# name -> (label, loss, mitigations, overrides on top of PROTOCOL_SET)
VARIANTS: dict[str, tuple[str, str, list[str], dict[str, Any]]] = {
    "gan": ("GAN (ns-gan, no mitigation)", "ns-gan", [], {}),
    "unrolled5": ("Unrolled GAN (5 steps, second order)", "ns-gan", ["unrolled"], {"mitigation.unrolled.steps": 5}),
    "pacgan2": ("PacGAN2", "ns-gan", ["pacgan"], {"mitigation.pacgan.pack": 2}),
    "pacgan3": ("PacGAN3 (batch 513)", "ns-gan", ["pacgan"], {"mitigation.pacgan.pack": 3, "run.batch_size": 513}),
    "pacgan4": ("PacGAN4", "ns-gan", ["pacgan"], {"mitigation.pacgan.pack": 4}),
    "minibatch-discrimination": ("Minibatch discrimination (B 100, C 5)", "ns-gan", ["minibatch-discrimination"], {}),
    "spectral-norm": ("Spectral norm (D)", "ns-gan", ["spectral-norm"], {}),
    "wgan-gp": ("WGAN-GP (5 critic steps, lr 1e-4, betas (0, 0.9), GP 10)", "wgan-gp", [], WGAN_GP_SET),
    # Ours, tuned within the reduced CPU budget: PacGAN2 on the protocol networks with an EMA of G
    # (decay 0.99: with a few hundred steps, 0.999 would still weigh the initial G; the engine has no EMA warm-up)
    # for precise convergence onto the narrow modes.
    "ganzoo-best": (
        "ganzoo best: PacGAN2 + EMA of G (decay 0.99)",
        "ns-gan", ["pacgan"],
        {"mitigation.pacgan.pack": 2, "train.ema": True, "train.ema_decay": 0.99},
    ),
}
DEFAULT_VARIANTS = list(VARIANTS)
DATASETS = ("ring8", "grid25")
COSTLY = {"unrolled5", "wgan-gp", "minibatch-discrimination"}

def run_config(variant: str, dataset: str, seed: int, steps: int) -> dict[str, Any]:
    _, loss, mitigations, extra = VARIANTS[variant]
    flat = {**PROTOCOL_SET, **extra}
    tree: dict[str, Any] = {
        "run": {"dataset": dataset, "arch": "mlp", "loss": loss, "mitigations": list(mitigations),
                "steps": steps, "seed": seed, "device": "cpu"},
        "train": {"log_every": max(1, steps // 20), "sample_every": 0, "checkpoint_every": 0, "tensorboard": False},
    }
    for key, value in flat.items():
        set_dotted(tree, key.split("."), value)
    return tree


def settings_text(variant: str) -> str:
    _, loss, mitigations, extra = VARIANTS[variant]
    flat = {**PROTOCOL_SET, **extra}
    parts = [f"loss {loss}", f"mitigations [{', '.join(mitigations)}]"]
    parts += [f"{k}={v}" for k, v in flat.items()]
    return "; ".join(parts)


def _worker(job: dict[str, Any]) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    from ganzoo.engine.api import start_run
    from ganzoo.rundir import load_generator
    from ganzoo.metrics.modes2d import mode_metrics_2d

    run_dir = Path(job["run_dir"])
    done = run_dir / "result.json"
    if done.exists():
        return json.loads(done.read_text())
    if run_dir.exists():  # an interrupted run: start it again from scratch
        import shutil

        shutil.rmtree(run_dir)
    t0 = time.perf_counter()
    start_run(run_config(job["variant"], job["dataset"], job["seed"], job["steps"]), run_dir, quiet=True)
    train_s = time.perf_counter() - t0
    gen = load_generator(run_dir)
    x = gen.sample(NUM_SAMPLES, seed=SAMPLE_SEED)
    info = gen.info
    m = mode_metrics_2d(x, info.mode_centres, info.mode_std)
    result = {
        **{k: job[k] for k in ("variant", "dataset", "seed", "steps")},
        "modes": m["modes"], "num_modes": m["num_modes"], "high_quality": m["high_quality"],
        "reverse_kl": m["reverse_kl"], "histogram": m["histogram"], "train_s": train_s,
        "used_ema": gen.used_ema,
    }
    torch.save(x, run_dir / "samples-2500.pt")
    done.write_text(json.dumps(result, indent=1))
    return result


def _fmt(values: list[float], digits: int) -> str:
    if not values:
        return "–"
    mean = statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def summarise(results: list[dict[str, Any]], dataset: str, variant: str) -> dict[str, Any] | None:
    rows = [r for r in results if r["dataset"] == dataset and r["variant"] == variant]
    if not rows:
        return None
    n_modes = rows[0]["num_modes"]
    return {
        "n": len(rows),
        "modes": _fmt([r["modes"] for r in rows], 1),
        "hq": _fmt([100 * r["high_quality"] for r in rows], 1),
        "kl": _fmt([r["reverse_kl"] for r in rows], 2),
        "all_modes": sum(r["modes"] == n_modes for r in rows),
        "goal": sum(r["modes"] == n_modes and r["high_quality"] >= 0.95 for r in rows),
        "steps": rows[0]["steps"],
        "train_s": statistics.fmean(r["train_s"] for r in rows),
    }


def tables(results: list[dict[str, Any]], variants: list[str], datasets: list[str]) -> str:
    out = []
    for ds in datasets:
        n_modes = 8 if ds == "ring8" else 25
        out.append(f"#### {ds} ({n_modes} modes)\n")
        out.append(f"| model | source | modes /{n_modes} | HQ % | reverse KL | seeds with all modes | seeds with all modes & HQ ≥ 95% | protocol |")
        out.append("|---|---|---|---|---|---|---|---|")
        for v in variants:
            s = summarise(results, ds, v)
            if s is None:
                continue
            label = VARIANTS[v][0]
            label = f"**{label}**" if v == "ganzoo-best" else label
            out.append(
                f"| {label} | **ours** (ganzoo, {s['n']} seed{'s, mean ± std' if s['n'] > 1 else ' only'}) | {s['modes']} | {s['hq']} | {s['kl']} | "
                f"{s['all_modes']}/{s['n']} | {s['goal']}/{s['n']} | protocol networks, {s['steps']:,} steps"
                f"{' (not 25k)' if s['steps'] != 25_000 else ''}, ~{s['train_s']:.0f} s/run |"
            )
        for p in (p for p in SUITE.published if p.dataset == ds):
            kl = p.values.get("reverse_kl")
            kl_s = "–" if kl is None else f"{kl:.2f}"
            err = ", ".join(f"{ERROR_LABELS[m]} ±{e:g}" for m, e in p.errors.items())
            note = p.protocol + (f"; {err} ({'s.e.' if p.error_kind == 'se' else 'std'})" if err else "")
            out.append(f"| {p.model} | *published* ({p.source}) | {p.values['modes']:g} | "
                       f"{round(100 * p.values['high_quality'], 4):g} | {kl_s} | – | – | {note} |")
        out.append("")
    return "\n".join(out)


def draw_figures(results: list[dict[str, Any]], out_root: Path, variants: list[str], datasets: list[str]) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    IMAGES.mkdir(parents=True, exist_ok=True)
    paths = []
    for ds in datasets:
        seed0 = {r["variant"]: r for r in results if r["dataset"] == ds and r["seed"] == min(
            rr["seed"] for rr in results if rr["dataset"] == ds)}
        vs = [v for v in variants if v in seed0]
        if not vs:
            continue
        cols = min(5, len(vs))
        rows = math.ceil(len(vs) / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.55 * rows), squeeze=False)
        lim = 1.5 if ds == "ring8" else 5.5
        from ganzoo_vector.mixtures import grid_centres, ring_centres

        centres = torch.tensor(ring_centres(8, 1.0) if ds == "ring8" else grid_centres())
        for ax in axes.flat:
            ax.set_axis_off()
        for ax, v in zip(axes.flat, vs):
            r = seed0[v]
            x = torch.load(out_root / ds / v / f"seed{r['seed']}" / "samples-2500.pt")
            ax.scatter(x[:, 0], x[:, 1], s=1, alpha=0.35, color="tab:blue", rasterized=True)
            ax.scatter(centres[:, 0], centres[:, 1], s=6, color="tab:red", marker="x", linewidths=0.6)
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_axis_on()
            ax.set_title(f"{v}\n{r['modes']}/{r['num_modes']} modes, HQ {100 * r['high_quality']:.0f}%", fontsize=7)
        fig.suptitle(f"{ds}, seed {min(seed0[v]['seed'] for v in vs)}, {seed0[vs[0]]['steps']:,} steps "
                     f"(2,500 samples; red x: centres)", fontsize=8)
        fig.tight_layout(rect=(0, 0, 1, 0.95))
        path = IMAGES / f"{ds}.png"
        fig.savefig(path, dpi=72)
        plt.close(fig)
        from PIL import Image  # a 32-colour palette keeps the PNG well under 100 KB

        Image.open(path).convert("RGB").quantize(colors=32).save(path, optimize=True)
        paths.append(path)
    return paths


def write_section(text: str) -> None:
    section = f"{START}\n{text.rstrip()}\n{END}\n"
    if RESULTS.exists():
        body = RESULTS.read_text()
        if START in body and END in body:
            pre, rest = body.split(START, 1)
            _, post = rest.split(END, 1)
            body = pre + section + post.lstrip("\n")
        else:
            body = body.rstrip("\n") + "\n\n" + section
    else:
        body = "# Benchmark results\n\n" + section
    RESULTS.write_text(body)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=25_000, help="generator iterations per run (protocol: 25,000)")
    ap.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 per variant")
    ap.add_argument("--variants", default=",".join(DEFAULT_VARIANTS), help=f"comma list of {', '.join(VARIANTS)}")
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("runs/mode-collapse"), help="root of the run directories")
    ap.add_argument("--write-results", action="store_true", help=f"write the section of {RESULTS.relative_to(REPO)} and the figures")
    ap.add_argument("--seeds-costly", type=int, default=None,
                    help="seeds for the costliest variants (unrolled5, wgan-gp, minibatch-discrimination); default --seeds")
    ap.add_argument("--report-only", action="store_true",
                    help="train nothing: collect the result.json files already under --out and report them")
    ap.add_argument("--notes", type=Path, default=None, help="markdown file appended to the RESULTS section (deviations, findings)")
    args = ap.parse_args(argv)

    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    bad = [v for v in variants if v not in VARIANTS] + [d for d in datasets if d not in DATASETS]
    if bad:
        ap.error(f"unknown variant/dataset: {', '.join(bad)}")

    out_root = args.out.resolve()
    # costliest first so the pool's tail is short
    cost = {"unrolled5": 10, "wgan-gp": 6, "minibatch-discrimination": 3}
    costly_seeds = args.seeds if args.seeds_costly is None else args.seeds_costly
    jobs = [
        {"variant": v, "dataset": d, "seed": s, "steps": args.steps,
         "run_dir": str(out_root / d / v / f"seed{s}")}
        for v in sorted(variants, key=lambda v: -cost.get(v, 1))
        for s in range(costly_seeds if v in COSTLY else args.seeds) for d in datasets
    ]
    t0 = time.perf_counter()
    results: list[dict[str, Any]] = []
    failures: list[str] = []
    if args.report_only:
        for j in jobs:
            f = Path(j["run_dir"]) / "result.json"
            if f.exists():
                results.append(json.loads(f.read_text()))
        jobs = []
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        futs = {pool.submit(_worker, j): j for j in jobs}
        for fut in as_completed(futs):
            j = futs[fut]
            try:
                r = fut.result()
            except Exception as exc:  # keep the others going
                failures.append(f"{j['dataset']}/{j['variant']}/seed{j['seed']}: {exc!r}")
                print(f"FAILED {failures[-1]}", file=sys.stderr, flush=True)
                continue
            results.append(r)
            print(f"[{time.perf_counter() - t0:7.1f}s] {r['dataset']:6s} {r['variant']:26s} seed {r['seed']}: "
                  f"{r['modes']}/{r['num_modes']} modes, HQ {100 * r['high_quality']:5.1f}%, "
                  f"KL {r['reverse_kl']:.3f} ({r['train_s']:.0f} s)", flush=True)
    wall = time.perf_counter() - t0
    wall_file = out_root / "wall.json"
    if args.report_only:
        info = json.loads(wall_file.read_text()) if wall_file.exists() else {}
        wall, run_cmd = info.get("wall_s", float("nan")), info.get("command", "")
    else:
        run_cmd = "python benchmarks/mode_collapse.py " + " ".join(sys.argv[1:] if argv is None else argv)
        out_root.mkdir(parents=True, exist_ok=True)
        wall_file.write_text(json.dumps({"wall_s": wall, "command": run_cmd, "finished": len(results), "jobs": len(jobs)}))
    results.sort(key=lambda r: (r["dataset"], variants.index(r["variant"]), r["seed"]))
    (out_root / "results.json").parent.mkdir(parents=True, exist_ok=True)
    (out_root / "results.json").write_text(json.dumps(results, indent=1))

    table_md = tables(results, variants, datasets)
    print()
    print(table_md)
    if failures:
        print("failures:\n  " + "\n  ".join(failures))

    if args.write_results:
        figs = draw_figures(results, out_root, variants, datasets)
        import torch

        cmd = run_cmd
        device = f"CPU only ({os.cpu_count()} cores, {platform.processor() or platform.machine()}), torch {torch.__version__}, " \
                 f"{args.workers} worker processes × 1 torch thread; no GPU"
        lines = [
            "## Mode collapse on 2D mixtures: schedule variations (benchmarks/mode_collapse.py)",
            "",
            "Shorter schedules, extra variants (minibatch discrimination, a tuned *ganzoo best*) and fewer seeds than the "
            "full protocol above (`ganzoo bench --suite mode-collapse-2d`), run with `benchmarks/mode_collapse.py`.",
            "",
            "The 2D ring/grid protocol of VEEGAN and GDPP (networks of Metz et al.): G z (256-d normal) → 128 tanh → "
            "128 tanh → 2; D 2 → 128 tanh → 128 tanh → 1; Adam β1 0.5 (β2 0.999), lr D 1e-4, lr G 1e-3; batch 512 "
            "(PacGAN3: 513, as 3 does not divide 512); one D step per G step (WGAN-GP: its defaults, 5 critic steps, "
            "lr 1e-4, betas (0, 0.9), GP 10). Metrics on 2,500 samples per run (`mode_metrics_2d`): high quality (HQ) = "
            "within 3 std of the nearest centre; a mode is captured when it has ≥ 1 HQ sample; reverse KL = "
            "KL(HQ histogram ‖ uniform), nats. Real samples score about 98.9% HQ. Ours: mean ± std over seeds; "
            "published rows are copied from the papers, not run here.",
            "",
            f"- Command: `{cmd}`",
            f"- Device: {device}",
            f"- Steps: {args.steps:,} generator iterations per run" + ("" if args.steps == 25_000 else
                                                                       " (**protocol: 25,000**; see deviations)"),
            f"- Seeds: {', '.join(str(s) for s in range(args.seeds))} per variant and dataset"
            + (f" ({', '.join(str(s) for s in range(costly_seeds))} for {', '.join(v for v in variants if v in COSTLY)})"
               if costly_seeds != args.seeds and any(v in COSTLY for v in variants) else "")
            + f"; {len(results)} runs"
            + (f", {len(failures)} failed" if failures else ""),
            f"- Wall time: {wall / 60:.1f} min",
            f"- ganzoo best settings: {settings_text('ganzoo-best')}" if "ganzoo-best" in variants else "",
            "",
            table_md,
        ]
        for p in figs:
            lines.append(f"![{p.stem}: seed-0 samples of each variant](../docs/images/mode-collapse/{p.name})")
            lines.append("")
        if args.notes and args.notes.exists():
            lines.append(args.notes.read_text().rstrip())
            lines.append("")
        write_section("\n".join(l for l in lines if l is not None))
        print(f"wrote {RESULTS}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
