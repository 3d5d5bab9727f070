"""Metrics of a finished run (in its worker) through :func:`ganzoo.metrics.evaluate.evaluate` with ``ganzoo eval``'s
defaults, on the newest checkpoint: ``ganzoo eval RUN --metrics M --seed 0 [--num-samples N]`` reproduces them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganzoo.bench.suite import EVAL_SEED
from ganzoo.engine.samples import grid_png
from ganzoo.files import write_bytes, write_with
from ganzoo.metrics.evaluate import DEFAULT_BATCH_SIZE, score_values
from ganzoo.metrics.modes2d import PROTOCOL_2D_SAMPLES
from ganzoo.metrics.sources import class_sampler, source_from_run

SAMPLES_FILE = "bench-samples.npy"  # 2D data: the evaluated samples, for the report's scatter plots
GRID_FILE = "bench-samples.png"  # image data: a grid of samples (a conditional generator: one row per class)
GRID_COLS, GRID_CLASSES = 8, 10


def evaluate_run(run_dir: Path, values: Sequence[str], *, num_samples: int | None = None,
                 device: str = "cpu") -> tuple[dict[str, float], dict[str, Any]]:
    """:func:`~ganzoo.metrics.evaluate.score_values` for the run in ``run_dir``; also saves its samples for the report: 2D points or an image grid
    (``details["grid_classes"]``: the class of each row of a conditional generator's)."""
    run_dir, source, seed = Path(run_dir), source_from_run(run_dir, device=device), EVAL_SEED
    out, details = score_values(source, values, num_samples=num_samples, seed=seed, device=device)
    if source.info.kind == "vector":
        n = int((details.get("modes") or {}).get("num_generated") or num_samples or PROTOCOL_2D_SAMPLES)
        points = source.sample(n, seed=seed, batch_size=DEFAULT_BATCH_SIZE, device=device).numpy()
        write_with(run_dir / SAMPLES_FILE, lambda f: np.save(f, points))
    else:  # a grid; a conditional generator's: GRID_COLS samples of each of its first classes, one row each
        k = min(source.num_classes, GRID_CLASSES)
        sample_class = class_sampler(source, seed, DEFAULT_BATCH_SIZE, device) if k else None
        x = (torch.cat([sample_class(GRID_COLS, c) for c in range(k)]) if sample_class
             else source.sample(GRID_COLS * GRID_COLS, seed=seed, batch_size=DEFAULT_BATCH_SIZE, device=device))
        details["grid_classes"] = list((source.info.class_names or [str(i) for i in range(k)])[:k]) if k else None
        write_bytes(run_dir / GRID_FILE, grid_png(x, nrow=GRID_COLS))
    return out, details
