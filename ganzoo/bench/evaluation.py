"""Metrics of one finished run, as the bench computes them (inside a worker process).

Mode metrics (``modes``, ``high_quality``, ``reverse_kl``, ``kl``) come from
:func:`ganzoo.metrics.modes.mode_metrics` (2D protocol: 2,500 samples; labelled images: a domain
classifier). Every other metric (``fid``, ``kid``, ``isc``, ``precision``, ``recall``, with an optional
``[EXTRACTOR]`` suffix, e.g. ``fid[classifier:shapes]``) goes to :func:`ganzoo.metrics.evaluate.evaluate`
The suite's ``eval_samples`` sets the number of generated samples of every metric; by default each
uses its protocol's count (modes: 2,500 for 2D data, 26,000 for stacked MNIST, 10,000 otherwise;
FID-like: 10,000).
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ganzoo.errors import GanzooError

MODE_METRICS = ("modes", "high_quality", "reverse_kl", "kl")
SAMPLES_FILE = "bench-samples.npy"  # 2D data: the evaluated samples, for the report's scatter plots
GRID_FILE = "bench-samples.png"  # image data: a grid of evaluated samples
GRID_IMAGES = 64


def split_metrics(metrics: Sequence[str]) -> tuple[list[str], list[str]]:
    """(mode metrics, other metrics)."""
    mode = [m for m in metrics if m in MODE_METRICS]
    return mode, [m for m in metrics if m not in MODE_METRICS]


def _finite(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


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


FIDELITY_BASES = {"fid": "fid", "isc": "isc", "kid": "kid", "precision": "prc", "recall": "prc", "f_score": "prc"}


def _extractor_of(name: str) -> str | None:
    """``fid[classifier:shapes]`` -> ``classifier``; ``fid[inception-v3-compat]`` -> that; ``fid`` -> None (default)."""
    if "[" not in name:
        return None
    label = name[name.index("[") + 1 : -1]
    return "classifier" if label.startswith("classifier") else label


def _other_metrics(run_dir: Path, names: list[str], num_samples: int | None, device: str, seed: int
                   ) -> tuple[dict[str, float], dict[str, Any]]:
    """FID-like metrics through :func:`ganzoo.metrics.evaluate.evaluate`, one call per feature extractor."""
    from ganzoo.metrics.evaluate import evaluate
    from ganzoo.metrics.sources import source_from_run

    bad = [n for n in names if n.split("[", 1)[0] not in FIDELITY_BASES]
    if bad:
        raise GanzooError(f"unknown metric {bad[0]!r}; the bench knows {', '.join(MODE_METRICS)}, "
                          f"{', '.join(FIDELITY_BASES)} (optionally with [EXTRACTOR], e.g. fid[classifier:shapes])")
    source = source_from_run(run_dir, device=device)
    groups: dict[str | None, list[str]] = {}
    for n in names:
        groups.setdefault(_extractor_of(n), []).append(n)
    values: dict[str, float] = {}
    details: dict[str, Any] = {}
    for extractor, group in groups.items():
        wanted = list(dict.fromkeys(FIDELITY_BASES[n.split("[", 1)[0]] for n in group))
        report = evaluate(source, wanted, num_samples=num_samples, feature_extractor=extractor, seed=seed,
                          device=device, quiet=True)
        for n in group:
            base = n.split("[", 1)[0]
            label = n[n.index("["):] if "[" in n else None
            hit = next((r for r in report.results if r.metric == base and (label is None or r.key.endswith(label))), None)
            if hit is None:
                raise GanzooError(f"the evaluation returned no {n!r} (got {', '.join(r.key for r in report.results)})")
            v = _finite(hit.value)
            if v is not None:
                values[n] = v
            details[n] = {"key": hit.key, **{k: v for k, v in hit.protocol.items() if k != "histogram"}}
        details.setdefault("seconds", 0.0)
        details["seconds"] += report.seconds
    return values, details


def evaluate_run(
    run_dir: Path, metrics: Sequence[str], *, num_samples: int | None = None, device: str = "cpu", seed: int = 12345,
) -> tuple[dict[str, float], dict[str, Any]]:
    """``(values, details)`` of ``metrics`` for the run in ``run_dir``; also saves samples for the report."""
    from ganzoo.rundir import load_generator, read_run_config
    from ganzoo.metrics.modes import default_num_samples, mode_metrics

    run_dir = Path(run_dir)
    mode_names, other = split_metrics(metrics)
    gen = load_generator(run_dir, device=device)
    info = gen.info
    values: dict[str, float] = {}
    details: dict[str, Any] = {}
    try:
        n = num_samples or default_num_samples(info)
    except GanzooError:
        n = GRID_IMAGES
    samples = gen.sample(n if mode_names else min(n, GRID_IMAGES), seed=seed)
    _save_samples(run_dir, samples, info.kind)
    if mode_names:
        cfg = read_run_config(run_dir)
        from ganzoo.metrics.classifier import get_classifier

        getter = functools.partial(
            get_classifier, data_root=Path(cfg.run["data_root"]) if cfg.run.get("data_root") else None,
            dataset_options=cfg.dataset, device=device,
        )
        res = mode_metrics(samples, info, classifier_getter=getter)
        aliases = {"reverse_kl": res.get("reverse_kl", res.get("kl")), "kl": res.get("kl", res.get("reverse_kl"))}
        for name in mode_names:
            v = _finite(aliases.get(name, res.get(name)))
            if v is None and name not in res and name not in aliases:
                raise GanzooError(f"metric {name!r} does not apply to dataset {info.name!r} (its mode protocol gives "
                                  f"{', '.join(k for k in res if isinstance(res[k], (int, float)))})")
            if v is not None:
                values[name] = v
        details["modes"] = {k: res[k] for k in ("protocol", "num_modes", "num_samples", "histogram", "classifier",
                                                 "classifier_accuracy", "threshold_std") if k in res}
    if other:
        vals, det = _other_metrics(run_dir, other, num_samples, device, seed)
        values.update(vals)
        details["fidelity"] = det
    return values, details
