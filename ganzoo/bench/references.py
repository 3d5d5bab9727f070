"""Reference rows of a bench table, scored like the runs (:func:`ganzoo.bench.evaluation.score`: same metrics, sample
count and seed): **real data** (the ceiling) and **chance**; computed once per dataset, cached in ``OUT/references.json``."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from ganzoo.bench.evaluation import score
from ganzoo.engine.components import assemble, build_data
from ganzoo.errors import one_line
from ganzoo.files import read_json_object, write_text
from ganzoo.metrics.modes import default_num_samples
from ganzoo.metrics.sources import GeneratorSource, source_from_module
from ganzoo.plugins import get_host
from ganzoo.rundir import load_generator, read_run_config
from ganzoo.specs import GanData

REFERENCE_FILE = "references.json"


@dataclass
class ReferenceRow:
    """A row of the table scored like the runs: ``real`` data (the ceiling) or ``chance``."""

    kind: str  # real | chance
    label: str
    description: str
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class ReferenceJob:
    """What the reference rows of one dataset depend on."""

    dataset: str
    run_dir: Path  # a run of the dataset: its config says how the data (and the architecture) are built
    metrics: tuple[str, ...]
    num_samples: int | None
    seed: int
    device: str = "cpu"

    def key(self) -> str:
        cfg = read_run_config(self.run_dir)
        what = {"dataset": self.dataset, "options": cfg.dataset, "data_root": cfg.run.get("data_root"), "arch": cfg.run["arch"],
                "arch_options": cfg.arch, "metrics": sorted(self.metrics), "n": self.num_samples, "seed": self.seed, "v": 3}
        return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:16]


def real_data(run_dir: Path) -> GanData:
    """The dataset as the run in ``run_dir`` was trained on."""
    return build_data(read_run_config(run_dir), get_host())


def _sources(job: ReferenceJob) -> list[tuple[str, str, str, Callable[[], GeneratorSource]]]:
    """``(kind, label, description, make source)`` of the real-data and the chance row: training samples in a seeded
    random order; 2D data: points uniform over its bounding box, images: the run's architecture untrained."""
    loaded = load_generator(job.run_dir)
    cfg, info, data = loaded.config, loaded.info, build_data(loaded.config, get_host())
    order, taken = torch.randperm(len(data), generator=torch.Generator().manual_seed(job.seed)), itertools.count()
    kw: dict[str, Any] = {"dataset_options": dict(cfg.dataset), "data_root": Path(cfg.run["data_root"]).expanduser()
                          if cfg.run.get("data_root") else None}

    def source(generate: Callable[[torch.Tensor, Any], torch.Tensor]) -> GeneratorSource:
        return GeneratorSource(info=info, latent_dim=1, latent_distribution="normal", generate=generate, **kw)

    def real() -> GeneratorSource:
        return source(lambda z, _: torch.stack([data.dataset[int(order[next(taken) % len(order)])][0]
                                                for _ in range(len(z))]).float().to(z.device))

    if info.kind == "vector":
        n, (lo, hi), g = job.num_samples or default_num_samples(info), info.value_range, torch.Generator().manual_seed(job.seed)
        box = f"[{lo:.3g}, {hi:.3g}]" + ("²" if info.shape == (2,) else f"^{info.shape[0]}")
        return [("real", "real data", f"{n:,} points of the training set itself", real),
                ("chance", "chance", f"{n:,} points uniform over the data's bounding box {box}",
                 lambda: source(lambda z, _: torch.rand(len(z), *info.shape, generator=g) * (hi - lo) + lo))]

    def untrained() -> GeneratorSource:  # the run's architecture as initialised at the run's seed
        G = assemble(cfg, get_host(), info=info, with_data=False).generator.to(job.device).eval()
        return source_from_module(G, info, latent_distribution=loaded.latent_distribution, **kw)

    return [("real", "real data", "training images in place of generated ones", real),
            ("chance", "chance", f"an untrained {cfg.run['arch']} generator (initialised, never trained)", untrained)]


def _metric_by_metric(job: ReferenceJob, kind: str, label: str, desc: str, make: Callable[[], GeneratorSource],
                      exc: Exception) -> ReferenceRow:
    """A row whose metrics cannot all be scored together (e.g. ``cas`` of real data, which has no label input): each
    metric alone; the ones that fail are left empty and named in the description."""
    values: dict[str, float] = {}
    skipped = []
    for metric in job.metrics:
        try:
            values |= score(make(), [metric], num_samples=job.num_samples, seed=job.seed, device=job.device)[0]
        except Exception:
            skipped.append(metric)
    if not values:
        return ReferenceRow(kind, label, desc, error=one_line(exc))
    return ReferenceRow(kind, label, f"{desc} (not scored: {', '.join(skipped)})" if skipped else desc, values)


def compute_rows(job: ReferenceJob) -> list[ReferenceRow]:
    """The real-data and chance rows of one dataset (an error becomes the row's ``error``)."""
    try:
        sources = _sources(job)
    except Exception as exc:
        return [ReferenceRow(kind, kind.replace("real", "real data"), "", error=one_line(exc)) for kind in ("real", "chance")]
    rows = []
    for kind, label, desc, make in sources:
        try:  # one reference must not cost the other or the report
            rows.append(ReferenceRow(kind, label, desc, score(make(), job.metrics, num_samples=job.num_samples, seed=job.seed,
                                                              device=job.device)[0]))
        except Exception as exc:
            rows.append(_metric_by_metric(job, kind, label, desc, make, exc))
    return rows


def reference_rows(jobs: Mapping[str, ReferenceJob], out: Path, *, compute: bool = True) -> dict[str, list[ReferenceRow]]:
    """``{dataset: [real row, chance row]}``: cached rows whose inputs are unchanged, the others computed (when
    ``compute``) and added to ``OUT/references.json``."""
    cache, rows, changed = read_json_object(Path(out) / REFERENCE_FILE), {}, False
    for dataset, job in jobs.items():
        with contextlib.suppress(Exception):
            key = job.key()
            if (cache.get(key) or {}).get("dataset") == dataset:
                rows[dataset] = [ReferenceRow(**r) for r in cache[key]["rows"]]
            elif compute:
                rows[dataset] = compute_rows(job)
                cache[key] = {"dataset": dataset, "rows": [asdict(r) for r in rows[dataset]], "num_samples": job.num_samples,
                              "seed": job.seed, "metrics": list(job.metrics)}
                changed = changed or not any(r.error for r in rows[dataset])
    if changed:
        write_text(Path(out) / REFERENCE_FILE, json.dumps(cache, indent=2) + "\n")
    return rows
