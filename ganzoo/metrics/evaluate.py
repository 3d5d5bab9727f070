"""Score a generator: FID/IS/KID/PRC through torch-fidelity and ganzoo's mode metrics.

:func:`evaluate` is what ``ganzoo eval`` and evaluation during training call. It returns an
:class:`EvalReport` whose ``results`` each carry their protocol (extractor, sample counts, reference,
resolution, seed); :mod:`ganzoo.metrics.report` prints it and writes ``eval.json``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ganzoo import __version__
from ganzoo.errors import ConfigError, GanzooError
from ganzoo.metrics.fidelity import FIDELITY_METRICS, Extractor, MetricResult, fidelity_metrics, resolve_extractor, torch_fidelity_version
from ganzoo.metrics.sources import FidelityGenerator, GeneratorSource

__all__ = [
    "METRICS",
    "DEFAULT_NUM_SAMPLES",
    "LOWER_IS_BETTER",
    "HIGHER_IS_BETTER",
    "EvalReport",
    "parse_metrics",
    "evaluate",
    "mode_results",
]

METRICS = (*FIDELITY_METRICS, "modes")
DEFAULT_NUM_SAMPLES = 10_000
"""Generated samples for FID/IS/KID/PRC unless ``--num-samples`` says otherwise."""
LOWER_IS_BETTER = frozenset({"fid", "kid", "kl"})
HIGHER_IS_BETTER = frozenset({"isc", "modes", "precision", "recall", "f_score", "high_quality"})


@dataclass
class EvalReport:
    """Results of one evaluation, and what was evaluated."""

    results: list[MetricResult]
    source: dict[str, Any]
    seconds: float = 0.0
    versions: dict[str, str] = field(default_factory=dict)

    def values(self) -> dict[str, float]:
        return {r.key: r.value for r in self.results}

    def find(self, metric: str) -> MetricResult | None:
        """The first result of ``metric`` (e.g. ``fid``, ``precision``, ``modes``), whatever its extractor."""
        return next((r for r in self.results if r.metric == metric), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "ganzoo-eval",
            "format_version": 1,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "source": self.source,
            "versions": self.versions,
            "seconds": round(self.seconds, 3),
            "values": self.values(),
            "metrics": {r.key: r.to_json() for r in self.results},
        }


def parse_metrics(text: str | Sequence[str]) -> list[str]:
    """``"fid,kid"`` or a list -> validated, de-duplicated metric names."""
    items = [p.strip().lower() for p in (text.split(",") if isinstance(text, str) else text)]
    items = [p for p in items if p]
    if not items:
        raise ConfigError(f"--metrics: expected a comma-separated list of {', '.join(METRICS)}")
    for m in items:
        if m not in METRICS:
            raise ConfigError(f"--metrics: unknown metric {m!r}; allowed: {', '.join(METRICS)}")
    return list(dict.fromkeys(items))


def versions() -> dict[str, str]:
    return {"ganzoo": __version__, "torch_fidelity": torch_fidelity_version(), "torch": torch.__version__}


def mode_results(
    source: GeneratorSource, *, num_samples: int | None, seed: int, batch_size: int,
    device: str | torch.device = "cpu", classifier: Any = None, data_root: Path | None = None,
    quiet: bool = True, host: Any = None,
) -> list[MetricResult]:
    """``modes`` and ``kl`` (plus ``high_quality`` for 2D data) by the dataset's mode protocol."""
    from ganzoo.metrics.modes import default_num_samples, mode_metrics, mode_protocol

    info = source.mode_info(data_root)
    protocol = mode_protocol(info)
    n = int(num_samples) if num_samples else default_num_samples(info)
    samples = source.sample(n, seed=seed, batch_size=batch_size, device=device)
    if classifier is None and protocol == "classifier":
        from ganzoo.metrics.classifier import get_classifier

        classifier = get_classifier(info.name, stacked=info.stacked, data_root=data_root, dataset_options=source.dataset_options,
                                    device=str(device), quiet=quiet, host=host)
    raw = mode_metrics(samples, info, classifier=classifier if protocol == "classifier" else None)
    proto = {"protocol": raw.get("protocol", protocol), "num_generated": n, "num_modes": raw["num_modes"], "seed": seed,
             "histogram": raw["histogram"]}
    if protocol == "classifier":
        proto.update(extractor=raw.get("classifier"), classifier_accuracy=raw.get("classifier_accuracy"),
                     resolution=info.resolution)
    else:
        proto.update(threshold_std=raw.get("threshold_std"), num_high_quality=raw.get("num_high_quality"))
    out = [MetricResult("modes", "modes", float(raw["modes"]), proto), MetricResult("kl", "kl", float(raw["kl"]), proto)]
    if "high_quality" in raw:
        out.append(MetricResult("high_quality", "high_quality", float(raw["high_quality"]), proto))
    return out


def evaluate(
    source: GeneratorSource,
    metrics: Sequence[str],
    *,
    num_samples: int | None = None,
    reference: str | None = None,
    feature_extractor: str | None = None,
    feature_weights: Path | str | None = None,
    seed: int = 0,
    batch_size: int = 128,
    device: str | torch.device = "cpu",
    data_root: Path | None = None,
    num_reference: int | None = None,
    prc_neighborhood: int = 3,
    quiet: bool = True,
    host: Any = None,
    extractor: Extractor | None = None,
) -> EvalReport:
    """Score ``source`` on ``metrics`` (any of fid, isc, kid, prc, modes)."""
    from ganzoo.metrics.reference import make_reference

    start = time.perf_counter()
    metrics = parse_metrics(metrics)
    info = source.info
    data_root = data_root or source.data_root
    if num_samples is not None and num_samples < 2:
        raise ConfigError(f"--num-samples {num_samples}: expected at least 2 samples")
    if batch_size < 1:
        raise ConfigError(f"--batch-size {batch_size}: expected a positive number")
    image_metrics = [m for m in metrics if m in FIDELITY_METRICS]
    if image_metrics and info.kind != "image":
        raise GanzooError(f"--metrics {','.join(image_metrics)}: FID/IS/KID/PRC apply to images, and dataset "
                          f"{info.name!r} is {info.kind} data; use --metrics modes")
    results: list[MetricResult] = []
    classifier = None
    if image_metrics:
        ext = extractor or resolve_extractor(feature_extractor, info, weights=feature_weights,
                                             dataset_options=source.dataset_options, data_root=data_root,
                                             device=device, quiet=quiet, host=host)
        classifier = ext.classifier
        ref = make_reference(reference, info, dataset_options=source.dataset_options, data_root=data_root,
                             num_reference=num_reference, host=host, tag=ext.cache_tag)
        results += fidelity_metrics(
            FidelityGenerator(source), ref, image_metrics, ext, num_samples=num_samples or DEFAULT_NUM_SAMPLES,
            seed=seed, batch_size=batch_size, device=device, prc_neighborhood=prc_neighborhood,
            verbose=not quiet, resolution=info.resolution,
        )
    if "modes" in metrics:
        results += mode_results(source, num_samples=num_samples, seed=seed, batch_size=batch_size, device=device,
                                classifier=classifier, data_root=data_root, quiet=quiet, host=host)
    return EvalReport(results=results, source=source.describe(), seconds=time.perf_counter() - start, versions=versions())
