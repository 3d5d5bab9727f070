"""Step-time cost of the relativistic losses and the modern regularisers / augmentations.

One process trains a small DCGAN (``dcgan``, width 32, latent 64) on the procedural ``shapes`` images at 32 px
(batch 32 by default, kept on the device) with ``ns-gan`` and no mitigation (the baseline), and with each new loss or
mitigation in turn. Each variant gets its own :class:`ganzoo.engine.trainer.Trainer` (same seed); after a
warm-up the variants are timed round-robin (baseline, variant 1, ..., baseline, ...) so that drift in the
machine's speed hits all of them alike, and the report gives each variant's median time per generator step
and its ratio to the baseline's (wall time, and process CPU time, steadier on a shared machine), as a
markdown table.

Note that the gradient penalties (r1, r2) make the engine build D without BatchNorm (``batch_norm_ok =
False``), so their rows also change D's normalisation; ``ada`` is timed at p = 0.5 (at p = 0, where ADA
starts, its transform is free), ``lecam`` with ``start = 0`` (its term on from the first step).

    python benchmarks/regularizer_cost.py [--batch 32] [--steps 2] [--repeats 7] [--threads 2] [--device cpu] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from ganzoo.config import resolve
from ganzoo.engine.trainer import Trainer
from ganzoo.plugins import get_host

RESOLUTION, WIDTH, LATENT = 32, 32, 64
BATCH = 32  # --batch

VARIANTS: list[tuple[str, str, list[str], dict[str, Any]]] = [
    # (label, loss, mitigations, mitigation options)
    ("ns-gan (baseline)", "ns-gan", [], {}),
    ("ragan", "ragan", [], {}),
    ("rahinge", "rahinge", [], {}),
    ("ralsgan", "ralsgan", [], {}),
    ("rpgan", "rpgan", [], {}),
    ("ns-gan + r1", "ns-gan", ["r1"], {}),
    ("ns-gan + r2", "ns-gan", ["r2"], {}),
    ("rpgan + r1 + r2 (R3GAN objective)", "rpgan", ["r1", "r2"], {"r1": {"gamma": 0.05}, "r2": {"gamma": 0.05}}),
    ("ns-gan + diffaugment", "ns-gan", ["diffaugment"], {}),
    ("ns-gan + ada (p = 0.5)", "ns-gan", ["ada"], {"ada": {"p_init": 0.5}}),
    ("ns-gan + lecam", "ns-gan", ["lecam"], {"lecam": {"start": 0}}),
    ("ns-gan + consistency (bCR)", "ns-gan", ["consistency"], {}),
]


def config(loss: str, mitigations: list[str], options: dict[str, Any], device: str, batch: int) -> dict[str, Any]:
    return {
        "run": {"dataset": "shapes", "arch": "dcgan", "loss": loss, "mitigations": mitigations, "batch_size": batch,
                "steps": 10**9, "device": device, "seed": 0},
        "dataset": {"resolution": RESOLUTION, "size": 1024},
        "arch": {"width": WIDTH, "latent_dim": LATENT},
        # The same optimizer for every variant (the losses' recommended settings would differ only in betas).
        "train": {"lr_g": 2e-4, "lr_d": 2e-4, "betas": [0.5, 0.999], "n_critic": 1, "ema": False,
                  "tensorboard": False, "sample_every": 0, "checkpoint_every": 0, "log_every": 10**9},
        "mitigation": options,
    }


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def timed(trainer: Trainer, steps: int) -> tuple[float, float]:
    """Wall and process-CPU seconds per generator step over ``steps`` steps (one host sync at the end, as
    a log interval). CPU time is the steadier measure on a shared machine: it does not count the time the
    process waits for a core."""
    if trainer.device.type == "cuda":
        torch.cuda.synchronize(trainer.device)
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(steps):
        trainer.train_step()
    trainer._acc.tolist()
    if trainer.device.type == "cuda":
        torch.cuda.synchronize(trainer.device)
    return (time.perf_counter() - t0) / steps, (time.process_time() - c0) / steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=BATCH, help="batch size")
    parser.add_argument("--steps", type=int, default=2, help="generator steps per timed block")
    parser.add_argument("--repeats", type=int, default=7, help="timed blocks per variant (median reported)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps per variant first")
    parser.add_argument("--threads", type=int, default=2, help="torch threads on the CPU")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the markdown table")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    host = get_host()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        trainers = []
        for i, (_, loss, mitigations, options) in enumerate(VARIANTS):
            cfg = resolve(config(loss, mitigations, options, args.device, args.batch), host)
            trainer = Trainer(cfg, Path(tmp) / f"run{i}", host)
            for _ in range(args.warmup):
                trainer.train_step()
            trainers.append(trainer)
        times: list[list[float]] = [[] for _ in VARIANTS]
        cpu: list[list[float]] = [[] for _ in VARIANTS]
        for _ in range(args.repeats):
            for i, trainer in enumerate(trainers):
                wall_s, cpu_s = timed(trainer, args.steps)
                times[i].append(wall_s)
                cpu[i].append(cpu_s)
    medians = [statistics.median(t) for t in times]
    cpu_medians = [statistics.median(c) for c in cpu]
    base, cpu_base = medians[0], cpu_medians[0]
    device = (f"{cpu_model()}, {args.threads} torch threads" if args.device == "cpu"
              else torch.cuda.get_device_name(torch.device(args.device)))
    rows = [{"variant": label, "ms_per_step": 1000 * m, "ratio": m / base, "spread_ms": 1000 * (max(t) - min(t)),
             "cpu_ms_per_step": 1000 * c, "cpu_ratio": c / cpu_base}
            for (label, *_), m, t, c in zip(VARIANTS, medians, times, cpu_medians, strict=True)]
    meta = {"device": device, "torch": torch.__version__, "resolution": RESOLUTION, "batch": args.batch, "width": WIDTH,
            "latent_dim": LATENT, "steps": args.steps, "repeats": args.repeats,
            "wall_s": round(time.perf_counter() - started, 1)}
    if args.json:
        print(json.dumps({"meta": meta, "rows": rows}, indent=2))
        return 0
    print(f"dcgan width {WIDTH}, {RESOLUTION} px, batch {args.batch}, n_critic 1; {device}; torch {torch.__version__}; "
          f"median of {args.repeats} blocks of {args.steps} steps (wall {meta['wall_s']} s)\n")
    print("| variant | wall ms / step | wall ratio | wall spread (ms) | CPU ms / step | CPU ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['variant']} | {r['ms_per_step']:.1f} | {r['ratio']:.2f}× | {r['spread_ms']:.1f} | "
              f"{r['cpu_ms_per_step']:.1f} | {r['cpu_ratio']:.2f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
