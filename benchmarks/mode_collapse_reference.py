"""Cross-check for the 2D mode-collapse protocol: the plain GAN of the reference code, in plain PyTorch.

A line-by-line transcription of the non-unrolled GAN in Metz et al.'s notebook (poolio/unrolled_gan), the
protocol VEEGAN and GDPP reuse: fresh mixture samples every step, G: z (256-d normal) -> 128 tanh -> 128 tanh -> 2,
D: 2 -> 128 tanh -> 128 tanh -> 1, non-saturating loss, Adam beta1 0.5, lr D 1e-4, lr G 1e-3, batch 512, 25k
steps. No ganzoo code is used for training; the samples are scored with ganzoo's ``mode_metrics_2d`` (2,500
samples, 3-std high-quality threshold), the metric of the ``mode-collapse-2d`` bench suite.

It answers one question: do ganzoo's ``ring8-gan`` / ``grid25-gan`` rows of ``ganzoo bench --suite
mode-collapse-2d`` behave like the reference code run here, whatever the published tables say?

    python benchmarks/mode_collapse_reference.py [--seeds 5] [--steps 25000] [--datasets ring8,grid25] [--init torch|xavier]

``--init xavier``: TensorFlow's ``fully_connected`` initialisation (Glorot uniform, zero bias) as in the
notebook; ``torch`` (default): PyTorch's ``nn.Linear`` initialisation, as ganzoo's ``mlp`` uses.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import torch
from torch import nn

from ganzoo.metrics.modes2d import mode_metrics_2d
from ganzoo.stats import CI_METHOD, Stat

DATASETS = {  # name -> (centres, std), as in ganzoo-vector's ring8 / grid25 and the reference code
    "ring8": ([(math.cos(2 * math.pi * i / 8), math.sin(2 * math.pi * i / 8)) for i in range(8)], 0.01),
    "grid25": ([(float(x), float(y)) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)], 0.05),
}


def mlp(n_in: int, n_out: int, init: str) -> nn.Sequential:
    net = nn.Sequential(nn.Linear(n_in, 128), nn.Tanh(), nn.Linear(128, 128), nn.Tanh(), nn.Linear(128, n_out))
    if init == "xavier":
        for layer in net:
            if isinstance(layer, nn.Linear):
                nn.init.xavier_uniform_(layer.weight)
                nn.init.zeros_(layer.bias)
    return net


def train_once(dataset: str, seed: int, steps: int, init: str) -> dict[str, float]:
    """One reference GAN run; returns its mode metrics and wall time."""
    torch.manual_seed(seed)
    centres, std = DATASETS[dataset]
    c = torch.tensor(centres)

    def sample_real(n: int) -> torch.Tensor:
        return c[torch.randint(0, len(centres), (n,))] + std * torch.randn(n, 2)

    gen, disc = mlp(256, 2, init), mlp(2, 1, init)
    opt_g = torch.optim.Adam(gen.parameters(), lr=1e-3, betas=(0.5, 0.999), eps=1e-8)
    opt_d = torch.optim.Adam(disc.parameters(), lr=1e-4, betas=(0.5, 0.999), eps=1e-8)
    bce = nn.BCEWithLogitsLoss()
    ones, zeros = torch.ones(512, 1), torch.zeros(512, 1)
    t0 = time.perf_counter()
    for _ in range(steps):
        real, fake = sample_real(512), gen(torch.randn(512, 256))
        loss_d = bce(disc(real), ones) + bce(disc(fake.detach()), zeros)
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = bce(disc(fake), ones)
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
    with torch.no_grad():
        samples = gen(torch.randn(2500, 256))
    m = mode_metrics_2d(samples, centres, std)
    return {"modes": m["modes"], "high_quality": m["high_quality"], "reverse_kl": m["reverse_kl"],
            "seconds": time.perf_counter() - t0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=25_000)
    ap.add_argument("--datasets", default="ring8,grid25")
    ap.add_argument("--init", choices=("torch", "xavier"), default="torch")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    summary = {}
    for dataset in args.datasets.split(","):
        runs = []
        for seed in range(args.seeds):
            r = train_once(dataset, seed, args.steps, args.init)
            runs.append(r)
            print(json.dumps({"dataset": dataset, "seed": seed, **r}), flush=True)
        agg = {k: Stat.of([r[k] for r in runs]) for k in ("modes", "high_quality", "reverse_kl")}
        summary[dataset] = {k: s.to_dict() for k, s in agg.items()}
        print(f"{dataset} reference GAN ({args.init} init, {args.seeds} seeds, {args.steps} steps; mean [{CI_METHOD}]): "
              f"modes {agg['modes'].text('{:.1f}'.format)}, HQ {agg['high_quality'].text(lambda v: f'{100 * v:.1f}')} %, "
              f"reverse KL {agg['reverse_kl'].text('{:.2f}'.format)}", flush=True)


if __name__ == "__main__":
    main()
