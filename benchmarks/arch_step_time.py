"""CPU step time of the ``resnet`` architecture beside ``dcgan`` at the same width and batch.

One process trains each architecture on the procedural ``shapes`` images at 32 px (batch 64, width 64,
latent 128, ``ns-gan``, n_critic 1, unconditional, no mitigation) through the engine's
:class:`ganzoo.engine.trainer.Trainer`: 3 warm-up steps, then 20 timed generator steps (each one D and one
G update). Reports seconds per step and the resnet / dcgan ratio as a markdown table.

Note ``width`` means different things: dcgan's ngf = ndf (layers w, 2w, 4w), resnet's ch (at 32 px G uses 2ch
channels at every block and D ch: the SNGAN CIFAR layout), so the same width is not the same cost.

    python benchmarks/arch_step_time.py [--steps 20] [--warmup 3] [--threads 2] [--device cpu] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from ganzoo.config import resolve
from ganzoo.engine.trainer import Trainer
from ganzoo.plugins import get_host

RESOLUTION, BATCH, WIDTH, LATENT = 32, 64, 64, 128
ARCHS = ("dcgan", "resnet")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def config(arch: str, device: str) -> dict[str, Any]:
    arch_opts: dict[str, Any] = {"width": WIDTH, "latent_dim": LATENT}
    if arch == "resnet":
        arch_opts["conditional"] = False  # the shapes labels would make it conditional; compare like with like
    return {
        "run": {"dataset": "shapes", "arch": arch, "loss": "ns-gan", "mitigations": [], "batch_size": BATCH,
                "steps": 10**9, "device": device, "seed": 0},
        "dataset": {"resolution": RESOLUTION, "size": 1024},
        "arch": arch_opts,
        "train": {"n_critic": 1, "lr_g": 2e-4, "lr_d": 2e-4, "betas": [0.5, 0.999], "tensorboard": False,
                  "sample_every": 0, "checkpoint_every": 0, "log_every": 10**9, "num_workers": 0, "ema": False},
    }


def time_arch(arch: str, steps: int, warmup: int, device: str, root: Path) -> dict[str, Any]:
    host = get_host()
    trainer = Trainer(resolve(config(arch, device), host), root / arch, host)
    params_g = sum(p.numel() for p in trainer.asm.generator.parameters())
    params_d = sum(p.numel() for p in trainer.asm.discriminator.parameters())
    for _ in range(warmup):
        trainer.train_step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    trainer.check_finite()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return {"arch": arch, "s_per_step": (time.perf_counter() - t0) / steps, "params_g": params_g, "params_d": params_d}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for a in ARCHS:
            rows.append(time_arch(a, args.steps, args.warmup, args.device, Path(tmp)))
            print(f"# {a}: {rows[-1]['s_per_step']:.3f} s/step", file=sys.stderr, flush=True)
    base = rows[0]["s_per_step"]
    device = cpu_model() if args.device == "cpu" else torch.cuda.get_device_name(0)
    if args.json:
        print(json.dumps({"device": device, "threads": args.threads, "rows": rows}, indent=2))
        return 0
    print(f"device: {device}, {args.threads} threads, torch {torch.__version__}; {RESOLUTION} px, batch {BATCH}, "
          f"width {WIDTH}, latent {LATENT}, ns-gan, {args.warmup} warm-up + {args.steps} timed steps\n")
    print("| arch | G params | D params | s/step | ratio to dcgan |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| `{r['arch']}` | {r['params_g']:,} | {r['params_d']:,} | {r['s_per_step']:.3f} | "
              f"{r['s_per_step'] / base:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
