"""Training throughput (images/s) of the ganzoo engine vs a plain PyTorch DCGAN loop.

The plain loop is written in the style of pytorch/examples ``dcgan/main.py`` (BCE on D's output,
Adam 2e-4 with betas (0.5, 0.999), batch 64, ``.item()`` on the losses every step, one fake batch
shared by the D and G updates) and uses the *same* generator and discriminator modules, built by
the ``dcgan`` plugin with the same seed, so both sides do the same network compute. Real batches
come from one tensor on the device on both sides (the ``shapes`` dataset, which the engine keeps
device-resident).

The engine is driven through the library: a resolved config, a :class:`ganzoo.engine.trainer.Trainer`
in a temporary run directory, and only ``Trainer.train_step`` timed (no sample grids, TensorBoard or
checkpoints inside the timed part). After warm-up the two are timed alternately (ganzoo, plain,
ganzoo, plain, ...) in one process; the report gives the median images/s of each and the ratio
ganzoo / plain (target >= 0.95). Images/s counts real images seen by the discriminator.

    python benchmarks/train_throughput.py [--protocol dcgan|2d] [--resolution 32|64] [--steps 20] [--repeats 5]
        [--device auto|cpu|cuda] [--precision fp32|bf16|fp16] [--threads N] [--json]

``--protocol 2d`` times the 2D mixture protocol instead (the ``mlp`` architecture on ``ring8``, batch 512,
the VEEGAN/PacGAN networks) with the same loop structure; "images" are then 2D points.

``--precision bf16`` on CUDA is the engine's fast path (bf16 autocast, channels_last, device data,
no per-step host syncs); the plain loop then runs under the same autocast and memory format.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganzoo.config import resolve
from ganzoo.engine.device import autocast_dtype, resolve_device
from ganzoo.engine.trainer import Trainer
from ganzoo.errors import GanzooError
from ganzoo.plugins import get_host

DATA_SIZE = 1024  # images kept on the device (shapes is procedural: no download)
PROTOCOLS: dict[str, dict[str, Any]] = {
    "dcgan": {"dataset": "shapes", "arch": "dcgan", "batch": 64, "arch_options": {"width": 64, "latent_dim": 100}},
    "2d": {"dataset": "ring8", "arch": "mlp", "batch": 512, "arch_options": {}},
}
"""What each protocol trains: the dataset (on the device), the architecture (its options) and the batch."""
BATCH = 64  # set from the protocol in main()


def dataset_options(protocol: str, resolution: int) -> dict[str, Any]:
    return {"resolution": resolution, "size": DATA_SIZE} if protocol == "dcgan" else {"size": 20_000}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def engine_config(protocol: str, resolution: int, device: str, precision: str, seed: int) -> dict[str, Any]:
    setup = PROTOCOLS[protocol]
    return {
        "run": {"dataset": setup["dataset"], "arch": setup["arch"], "loss": "ns-gan", "batch_size": BATCH,
                "steps": 10**9, "device": device, "precision": precision, "seed": seed},
        "dataset": dataset_options(protocol, resolution),
        "arch": dict(setup["arch_options"]),
        "train": {"lr_g": 2e-4, "lr_d": 2e-4, "betas": [0.5, 0.999], "n_critic": 1, "ema": False,
                  "tensorboard": False, "sample_every": 0, "checkpoint_every": 0, "log_every": 10**9},
    }


class EngineRunner:
    """The ganzoo engine: ``Trainer.train_step`` on a resolved config in a temporary run directory."""

    name = "ganzoo"

    def __init__(self, protocol: str, resolution: int, device: str, precision: str, seed: int, run_dir: Path) -> None:
        host = get_host()
        cfg = resolve(engine_config(protocol, resolution, device, precision, seed), host)
        self.trainer = Trainer(cfg, run_dir, host)
        self.device = self.trainer.device
        self.real = self.trainer.batches.x  # the device-resident data, shared with the plain loop

    def run(self, steps: int) -> tuple[float, float]:
        t = self.trainer
        _sync(self.device)
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(steps):
            t.train_step()
        t._acc.tolist()  # the engine reads its losses once per log interval: one host sync here
        _sync(self.device)
        return time.perf_counter() - t0, time.process_time() - c0


class PlainRunner:
    """pytorch/examples dcgan/main.py's inner loop on the same modules and the same device data."""

    name = "plain"

    def __init__(self, protocol: str, resolution: int, device: torch.device, precision: str, seed: int,
                 real: torch.Tensor, channels_last: bool) -> None:
        host = get_host()
        setup = PROTOCOLS[protocol]
        arch = host.architectures.get(setup["arch"]).with_options(setup["arch_options"])
        info = host.datasets.get(setup["dataset"]).with_options(dataset_options(protocol, resolution)).build(
            data_root=None, seed=seed).info
        torch.manual_seed(seed)
        mf = torch.channels_last if channels_last else torch.contiguous_format
        self.netG = arch.build_generator(info).to(device, memory_format=mf)
        self.netD = arch.build_discriminator(info, batch_norm=True).to(device, memory_format=mf)
        self.nz = int(self.netG.latent_dim)
        self.device = device
        self.channels_last = channels_last
        self.amp = autocast_dtype(precision, device)
        self.criterion = nn.BCEWithLogitsLoss()  # D returns logits; examples' Sigmoid + BCELoss
        self.optD = torch.optim.Adam(self.netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.optG = torch.optim.Adam(self.netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.real = real
        self.gen = torch.Generator().manual_seed(seed + 1)
        self._order = torch.empty(0, dtype=torch.long)

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp)

    def _batch(self) -> torch.Tensor:
        if self._order.numel() < BATCH:  # shuffled epochs, as a DataLoader(shuffle=True) gives
            self._order = torch.randperm(self.real.shape[0], generator=self.gen)
        idx, self._order = self._order[:BATCH], self._order[BATCH:]
        x = self.real[idx.to(self.device)]
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def run(self, steps: int) -> tuple[float, float]:
        netG, netD, crit, dev = self.netG, self.netD, self.criterion, self.device
        _sync(dev)
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(steps):
            # (1) Update D: maximize log(D(x)) + log(1 - D(G(z)))
            netD.zero_grad()
            real = self._batch()
            b = real.size(0)
            label = torch.full((b,), 1.0, device=dev)
            with self._autocast():
                output = netD(real)
            errD_real = crit(output.float(), label)
            errD_real.backward()
            D_x = output.mean().item()
            noise = torch.randn(b, self.nz, device=dev)
            with self._autocast():
                fake = netG(noise)
            label.fill_(0.0)
            with self._autocast():
                output = netD(fake.detach())
            errD_fake = crit(output.float(), label)
            errD_fake.backward()
            D_G_z1 = output.mean().item()
            errD = errD_real + errD_fake
            self.optD.step()
            # (2) Update G: maximize log(D(G(z)))
            netG.zero_grad()
            label.fill_(1.0)
            with self._autocast():
                output = netD(fake)
            errG = crit(output.float(), label)
            errG.backward()
            D_G_z2 = output.mean().item()
            self.optG.step()
            _ = (errD.item(), errG.item(), D_x, D_G_z1, D_G_z2)
        _sync(dev)
        return time.perf_counter() - t0, time.process_time() - c0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--protocol", choices=tuple(PROTOCOLS), default="dcgan",
                   help="dcgan (shapes images) or 2d (mlp on ring8, batch 512)")
    p.add_argument("--resolution", type=int, choices=(32, 64), default=32)
    p.add_argument("--steps", type=int, default=20, help="timed steps per run (default 20)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps of each before timing (default 3)")
    p.add_argument("--repeats", type=int, default=5, help="timed runs of each, alternating (default 5)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default="fp32")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    args = p.parse_args(argv)
    if args.steps < 1 or args.repeats < 1 or args.warmup < 0:
        p.error("--steps and --repeats must be >= 1, --warmup >= 0")
    try:
        device = resolve_device(args.device)
        autocast_dtype(args.precision, device)
    except GanzooError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    global BATCH
    BATCH = int(PROTOCOLS[args.protocol]["batch"])
    if args.threads:
        torch.set_num_threads(args.threads)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # as pytorch/examples does; applies to both sides

    with tempfile.TemporaryDirectory(prefix="ganzoo-throughput-") as tmp:
        engine = EngineRunner(args.protocol, args.resolution, args.device, args.precision, args.seed, Path(tmp) / "run")
        plain = PlainRunner(args.protocol, args.resolution, device, args.precision, args.seed, engine.real,
                            channels_last=engine.trainer.channels_last)
        runners = [engine, plain]
        for r in runners:
            if args.warmup:
                r.run(args.warmup)
        times: dict[str, list[float]] = {r.name: [] for r in runners}
        cpu: dict[str, list[float]] = {r.name: [] for r in runners}
        for _ in range(args.repeats):
            for r in runners:
                wall, used = r.run(args.steps)
                times[r.name].append(wall)
                cpu[r.name].append(used)
                if not args.json:
                    print(f"  {r.name:6s} {BATCH * args.steps / wall:8.1f} img/s", file=sys.stderr)

    ips = {k: [BATCH * args.steps / t for t in v] for k, v in times.items()}
    med = {k: statistics.median(v) for k, v in ips.items()}
    # Images per CPU-second of this process: less sensitive than wall time to other jobs on a shared machine.
    cps = {k: statistics.median(BATCH * args.steps / t for t in v) for k, v in cpu.items()}
    result = {
        "device": str(device) if device.type == "cpu" else f"{device} ({torch.cuda.get_device_name(device)})",
        "precision": args.precision,
        "protocol": args.protocol,
        "resolution": args.resolution if args.protocol == "dcgan" else None,
        "batch_size": BATCH,
        "steps": args.steps,
        "repeats": args.repeats,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "img_per_s": {k: [round(x, 2) for x in v] for k, v in ips.items()},
        "median_img_per_s": {k: round(v, 2) for k, v in med.items()},
        "ratio_ganzoo_over_plain": round(med["ganzoo"] / med["plain"], 4),
        "median_img_per_cpu_s": {k: round(v, 2) for k, v in cps.items()},
        "cpu_ratio_ganzoo_over_plain": round(cps["ganzoo"] / cps["plain"], 4),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        what = f"{args.resolution}px" if args.protocol == "dcgan" else "2D mlp/ring8"
        print(f"device {result['device']}, {args.precision}, {what}, batch {BATCH}, "
              f"{args.steps} steps x {args.repeats} repeats (torch {torch.__version__}, {result['threads']} threads)")
        print("| loop   | median img/s | runs (img/s) |")
        print("|--------|-------------:|--------------|")
        for k in ("ganzoo", "plain"):
            print(f"| {k:6s} | {med[k]:12.1f} | {', '.join(f'{x:.1f}' for x in ips[k])} |")
        print(f"ratio ganzoo/plain = {result['ratio_ganzoo_over_plain']:.3f} (target >= 0.95); "
              f"per CPU-second of this process: {result['cpu_ratio_ganzoo_over_plain']:.3f} "
              f"(ganzoo {cps['ganzoo']:.1f}, plain {cps['plain']:.1f} img/cpu-s)")
        if result["load_average"] and result["load_average"][0] > (os.cpu_count() or 1):
            print(f"note: load average {result['load_average'][0]:.1f} on {os.cpu_count()} cores: other jobs share the CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
