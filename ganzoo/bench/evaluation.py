"""Metrics of one finished run, as the bench computes them (inside a worker process): every value goes
through :func:`ganzoo.metrics.evaluate.evaluate`, the function ``ganzoo eval`` calls, on the same
source (the run's newest checkpoint, EMA weights when present), with ``ganzoo eval``'s defaults: seed
:data:`EVAL_SEED`, batch size :data:`EVAL_BATCH_SIZE` and each metric's protocol sample count unless the
suite sets ``eval_samples``. So ``ganzoo eval RUN --metrics M --seed 0 [--num-samples N]`` reproduces a
run's numbers exactly. FID-like values may name a feature extractor (``fid[classifier:shapes]``): one
evaluation per extractor.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ganzoo.errors import GanzooError

EVAL_SEED = 0  # `ganzoo eval --seed`'s default
EVAL_BATCH_SIZE = 128  # `ganzoo eval --batch-size`'s default (samples do not depend on it)
SAMPLES_FILE = "bench-samples.npy"  # 2D data: the evaluated samples, for the report's scatter plots
GRID_FILE = "bench-samples.png"  # image data: a grid of evaluated samples
GRID_IMAGES = 64
NO_HQ = "no high-quality samples"


def extractor_of(name: str) -> str | None:
    """``fid[classifier:shapes]`` -> ``classifier``; ``fid[inception-v3-compat]`` -> that; ``fid`` -> None (default)."""
    if "[" not in name:
        return None
    label = name[name.index("[") + 1 : -1]
    return "classifier" if label.startswith("classifier") else label


def _save_samples(run_dir: Path, samples: torch.Tensor, kind: str) -> None:
    from ganzoo.files import write_bytes

    if kind == "vector":
        import numpy as np

        buf = io.BytesIO()
        np.save(buf, samples.float().numpy())
        write_bytes(run_dir / SAMPLES_FILE, buf.getvalue())
    else:
        from ganzoo.engine.samples import grid_png

        write_bytes(run_dir / GRID_FILE, grid_png(samples[:GRID_IMAGES], nrow=8))


def evaluate_run(
    run_dir: Path, values: Sequence[str], *, num_samples: int | None = None, device: str = "cpu", seed: int = EVAL_SEED,
) -> tuple[dict[str, float], dict[str, Any]]:
    """``(values, details)`` of the value names ``values`` for the run in ``run_dir`` (non-finite values are
    left out and explained in ``details["notes"]``); also saves samples for the report. ``details`` records
    the seed, the sample count and each value's protocol."""
    from ganzoo.metrics.builtin import FidelityMetric, ModeCoverage
    from ganzoo.metrics.catalogue import base_name, metric_for_value
    from ganzoo.metrics.evaluate import evaluate
    from ganzoo.metrics.modes2d import PROTOCOL_2D_SAMPLES
    from ganzoo.metrics.sources import source_from_run

    run_dir = Path(run_dir)
    source = source_from_run(run_dir, device=device)
    groups: dict[str | None, dict[str, list[str]]] = {}  # extractor -> metric -> value names
    specs = {name: metric_for_value(name) for name in values}
    for name, spec in specs.items():
        ext = extractor_of(name) if isinstance(spec, FidelityMetric) else None
        groups.setdefault(ext, {}).setdefault(spec.name, []).append(name)
    if None not in groups and groups:  # metrics without an extractor join the first evaluation
        groups = {next(iter(groups)): {}, **groups}
    out: dict[str, float] = {}
    details: dict[str, Any] = {"seed": seed, "num_samples": num_samples, "batch_size": EVAL_BATCH_SIZE, "metrics": {},
                               "seconds": 0.0}
    for ext, wanted in groups.items():
        if not wanted:
            continue
        report = evaluate(source, list(wanted), num_samples=num_samples, feature_extractor=ext, seed=seed,
                          batch_size=EVAL_BATCH_SIZE, device=device, quiet=True)
        details["seconds"] += report.seconds
        for name in (n for names in wanted.values() for n in names):
            base, label = base_name(name), name[len(base_name(name)):]
            hit = next((r for r in report.results if r.metric == base and (not label or r.key.endswith(label))), None)
            if hit is None:
                raise GanzooError(f"metric {name!r} does not apply to dataset {source.info.name!r} (its evaluation "
                                  f"gives {', '.join(r.key for r in report.results)})")
            details["metrics"][name] = {"key": hit.key, **{k: v for k, v in hit.protocol.items() if k != "histogram"}}
            if isinstance(specs[name], ModeCoverage):
                details["modes"] = {**hit.protocol, "num_samples": hit.protocol.get("num_generated")}
            if math.isfinite(hit.value):
                out[name] = hit.value
            else:
                details.setdefault("notes", {})[name] = NO_HQ if hit.protocol.get("num_high_quality") == 0 else "not finite"
    kind = source.info.kind
    n = int((details.get("modes") or {}).get("num_generated") or num_samples or PROTOCOL_2D_SAMPLES) if kind == "vector" else GRID_IMAGES
    _save_samples(run_dir, source.sample(n, seed=seed, batch_size=EVAL_BATCH_SIZE, device=device), kind)
    return out, details
