"""The reference rows of a results table, scored like a trained run (same value names, sample count, seed and
evaluation options): **real data** (the ceiling: training samples in place of generated ones) and **chance** (2D
data: points uniform over its bounding box; images: the run's architecture untrained). ``ganzoo eval RUN
--real-and-chance`` prints them; ``ganzoo bench`` puts them in every table."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ganzoo.engine.components import assemble, build_data
from ganzoo.errors import one_line
from ganzoo.metrics.evaluate import score_values
from ganzoo.metrics.modes import default_num_samples
from ganzoo.metrics.sources import GeneratorSource, source_from_module
from ganzoo.plugins import get_host
from ganzoo.rundir import load_generator, read_run_config
from ganzoo.specs import GanData

__all__ = ["ReferenceRow", "run_data", "score_references"]

Make = Callable[[], GeneratorSource]


@dataclass
class ReferenceRow:
    """A row scored like the runs: ``real`` data (the ceiling) or ``chance``."""

    kind: str  # real | chance
    label: str
    description: str
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None


def run_data(run_dir: Path) -> GanData:
    """The dataset as the run in ``run_dir`` was trained on."""
    return build_data(read_run_config(run_dir), get_host())


def _sources(run_dir: Path, num_samples: int | None, seed: int, device: str | torch.device) -> list[tuple[str, str, str, Make]]:
    """``(kind, label, description, make source)`` of the real-data and the chance row; real samples are drawn in a
    random order seeded by ``seed``."""
    loaded = load_generator(run_dir)
    cfg, info, data = loaded.config, loaded.info, build_data(loaded.config, get_host())
    order, taken = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed)), itertools.count()
    kw: dict[str, Any] = {"dataset_options": dict(cfg.dataset), "data_root": Path(cfg.run["data_root"]).expanduser()
                          if cfg.run.get("data_root") else None}

    def source(generate: Callable[[torch.Tensor, Any], torch.Tensor]) -> GeneratorSource:
        return GeneratorSource(info=info, latent_dim=1, latent_distribution="normal", generate=generate, **kw)

    def real() -> GeneratorSource:
        return source(lambda z, _: torch.stack([data.dataset[int(order[next(taken) % len(order)])][0]
                                                for _ in range(len(z))]).float().to(z.device))

    if info.kind == "vector":
        n, (lo, hi), g = num_samples or default_num_samples(info), info.value_range, torch.Generator().manual_seed(seed)
        box = f"[{lo:.3g}, {hi:.3g}]" + ("²" if info.shape == (2,) else f"^{info.shape[0]}")
        return [("real", "real data", f"{n:,} points of the training set itself", real),
                ("chance", "chance", f"{n:,} points uniform over the data's bounding box {box}",
                 lambda: source(lambda z, _: torch.rand(len(z), *info.shape, generator=g) * (hi - lo) + lo))]

    def untrained() -> GeneratorSource:  # the run's architecture as initialised at the run's seed
        G = assemble(cfg, get_host(), info=info, with_data=False).generator.to(device).eval()
        return source_from_module(G, info, latent_distribution=loaded.latent_distribution, **kw)

    return [("real", "real data", "training images in place of generated ones", real),
            ("chance", "chance", f"an untrained {cfg.run['arch']} generator (initialised, never trained)", untrained)]


def _metric_by_metric(values: Sequence[str], kind: str, label: str, desc: str, make: Make, exc: Exception,
                      **score: Any) -> ReferenceRow:
    """A row whose values cannot all be scored together (e.g. ``cas`` of real data, which has no label input): each
    value alone; the ones that fail are left empty and named in the description."""
    scored: dict[str, float] = {}
    skipped = []
    for value in values:
        try:
            scored |= score_values(make(), [value], **score)[0]
        except Exception:
            skipped.append(value)
    if not scored:
        return ReferenceRow(kind, label, desc, error=one_line(exc))
    return ReferenceRow(kind, label, f"{desc} (not scored: {', '.join(skipped)})" if skipped else desc, scored)


def score_references(run_dir: Path, values: Sequence[str], *, num_samples: int | None, seed: int,
                     device: str | torch.device = "cpu",
                     **options: Any) -> list[ReferenceRow]:
    """The real-data and chance rows for the run in ``run_dir``, scored by :func:`~ganzoo.metrics.evaluate.score_values`
    with the same arguments as the run; an error becomes the row's ``error`` (one row never costs the other)."""
    score = {"num_samples": num_samples, "seed": seed, "device": device, **options}
    try:
        sources = _sources(Path(run_dir), num_samples, seed, device)
    except Exception as exc:
        return [ReferenceRow(kind, kind.replace("real", "real data"), "", error=one_line(exc)) for kind in ("real", "chance")]
    rows = []
    for kind, label, desc, make in sources:
        try:
            rows.append(ReferenceRow(kind, label, desc, score_values(make(), values, **score)[0]))
        except Exception as exc:
            rows.append(_metric_by_metric(values, kind, label, desc, make, exc, **score))
    return rows
