"""Metrics of a finished run (in its worker) through :func:`ganzoo.metrics.evaluate.evaluate` with ``ganzoo eval``'s
defaults, on the newest checkpoint: ``ganzoo eval RUN --metrics M --seed 0 [--num-samples N]`` reproduces them."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganzoo.bench.suite import EVAL_SEED
from ganzoo.engine.samples import grid_png
from ganzoo.errors import GanzooError
from ganzoo.files import write_bytes
from ganzoo.metrics.builtin import FidelityMetric, ModeCoverage
from ganzoo.metrics.catalogue import base_name, metric_for_value
from ganzoo.metrics.evaluate import evaluate
from ganzoo.metrics.modes2d import PROTOCOL_2D_SAMPLES
from ganzoo.metrics.sources import GeneratorSource, source_from_run

EVAL_BATCH_SIZE = 128  # `ganzoo eval --batch-size`'s default (samples do not depend on it)
SAMPLES_FILE = "bench-samples.npy"  # 2D data: the evaluated samples, for the report's scatter plots
GRID_FILE = "bench-samples.png"  # image data: a grid of samples (a conditional generator: one row per class)
GRID_COLS, GRID_CLASSES = 8, 10


def score(source: GeneratorSource, values: Sequence[str], *, num_samples: int | None, seed: int,
          device: str) -> tuple[dict[str, float], dict[str, Any]]:
    """``(values, details)`` of the value names ``values`` for ``source``: one evaluation per feature extractor
    (``fid[classifier:shapes]`` -> ``classifier``); non-finite values are left out and explained in ``details["notes"]``."""
    groups: dict[str | None, dict[str, list[str]]] = {}  # extractor -> metric -> value names
    specs = {name: metric_for_value(name) for name in values}
    for name, spec in specs.items():
        ext = name[name.index("[") + 1: -1] if "[" in name and isinstance(spec, FidelityMetric) else None
        ext = "classifier" if ext and ext.startswith("classifier") else ext
        groups.setdefault(ext, {}).setdefault(spec.name, []).append(name)
    out: dict[str, float] = {}
    details: dict[str, Any] = {"seed": seed, "num_samples": num_samples, "batch_size": EVAL_BATCH_SIZE, "metrics": {},
                               "seconds": 0.0}
    for ext, wanted in groups.items():
        report = evaluate(source, list(wanted), num_samples=num_samples, feature_extractor=ext, seed=seed,
                          batch_size=EVAL_BATCH_SIZE, device=device, quiet=True)
        details["seconds"] += report.seconds
        for name in (n for names in wanted.values() for n in names):
            label = name[len(base_name(name)):]
            hit = next((r for r in report.results if r.metric == base_name(name) and r.key.endswith(label)), None)
            if hit is None:
                raise GanzooError(f"metric {name!r} does not apply to dataset {source.info.name!r} (its evaluation "
                                  f"gives {', '.join(r.key for r in report.results)})")
            details["metrics"][name] = {"key": hit.key, **{k: v for k, v in hit.protocol.items() if k != "histogram"}}
            if isinstance(specs[name], ModeCoverage):
                details["modes"] = {**hit.protocol, "num_samples": hit.protocol.get("num_generated")}
            if math.isfinite(hit.value):
                out[name] = hit.value
            else:
                no_hq = hit.protocol.get("num_high_quality") == 0
                details.setdefault("notes", {})[name] = "no high-quality samples" if no_hq else "not finite"
    return out, details


def evaluate_run(run_dir: Path, values: Sequence[str], *, num_samples: int | None = None,
                 device: str = "cpu") -> tuple[dict[str, float], dict[str, Any]]:
    """:func:`score` for the run in ``run_dir``; also saves its samples for the report: 2D points or an image grid
    (``details["grid_classes"]``: the class of each row of a conditional generator's)."""
    run_dir, source, seed = Path(run_dir), source_from_run(run_dir, device=device), EVAL_SEED
    out, details = score(source, values, num_samples=num_samples, seed=seed, device=device)
    if source.info.kind == "vector":
        n = int((details.get("modes") or {}).get("num_generated") or num_samples or PROTOCOL_2D_SAMPLES)
        buf = io.BytesIO()
        np.save(buf, source.sample(n, seed=seed, batch_size=EVAL_BATCH_SIZE, device=device).numpy())
        write_bytes(run_dir / SAMPLES_FILE, buf.getvalue())
    else:  # a grid; a conditional generator's: GRID_COLS samples of each of its first classes, one row each
        k = min(source.num_classes, GRID_CLASSES)
        with torch.no_grad():
            if k:
                z = next(source.latents(k * GRID_COLS, seed))[0].to(device)
                x = source.generate(z, torch.arange(k).repeat_interleave(GRID_COLS).to(device)).float().cpu()
            else:
                x = source.sample(GRID_COLS * GRID_COLS, seed=seed, batch_size=EVAL_BATCH_SIZE, device=device)
        details["grid_classes"] = list((source.info.class_names or [str(i) for i in range(k)])[:k]) if k else None
        write_bytes(run_dir / GRID_FILE, grid_png(x, nrow=GRID_COLS))
    return out, details
