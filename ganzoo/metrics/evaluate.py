"""Score a generator: FID/IS/KID/PRC through torch-fidelity and ganzoo's mode metrics.

:func:`evaluate` is what ``ganzoo eval`` and evaluation during training call. It returns an
:class:`EvalReport` whose ``results`` each carry their protocol (extractor, sample counts, reference,
resolution, seed); :mod:`ganzoo.metrics.report` prints it and writes ``eval.json``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ganzoo import __version__
from ganzoo.errors import ConfigError, GanzooError
from ganzoo.metrics.builtin import FidelityMetric, IntraClassFID, ModeCoverage
from ganzoo.metrics.catalogue import EXTRACTOR_SUFFIX, base_name, extractor_of, metric_for_value, metric_names
from ganzoo.metrics.fidelity import Extractor, MetricResult, fidelity_metrics, resolve_extractor, torch_fidelity_version
from ganzoo.metrics.sources import FidelityGenerator, GeneratorSource, class_sampler
from ganzoo.plugins import get_host
from ganzoo.specs import DataInfo, MetricContext, MetricSpec
from ganzoo.metrics.modes import default_num_samples, mode_metrics, mode_protocol
from ganzoo.metrics.classifier import get_classifier
from ganzoo.metrics.reference import make_reference
from ganzoo.metrics.intraclass import ifid_unusable, intra_class_fid

__all__ = [
    "DEFAULT_NUM_SAMPLES",
    "EvalReport",
    "parse_metrics",
    "evaluate",
    "mode_results",
    "score_values",
]

DEFAULT_NUM_SAMPLES = 10_000
"""Generated samples for FID/IS/KID/PRC and plugin metrics unless ``--num-samples`` says otherwise."""
DEFAULT_BATCH_SIZE = 128
"""``ganzoo eval --batch-size``'s default (samples do not depend on it)."""


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


def parse_metrics(text: str | Sequence[str], host: Any = None) -> list[str]:
    """``"fid,kid"`` or a list -> validated, de-duplicated names of registered metrics; an FID-like one may name its
    feature extractor in brackets (``fid[classifier]``, ``kid[inception-v3-compat]``)."""
    known = metric_names(host)
    items = [p.strip().lower() for p in (text.split(",") if isinstance(text, str) else text)]
    items = [p for p in items if p]
    if not items:
        raise ConfigError(f"--metrics: expected a comma-separated list of {', '.join(known)}")
    for m in items:
        base = base_name(m)
        if base not in known:
            raise ConfigError(f"--metrics: unknown metric {m!r}; allowed: {', '.join(known)}")
        if m != base and not (isinstance(get_host_for(host).metrics.get(base), FidelityMetric)
                              and EXTRACTOR_SUFFIX.match(m[len(base):])):
            raise ConfigError(f"--metrics {m!r}: only FID-like metrics (torch-fidelity's) take a feature extractor in "
                              "brackets, e.g. fid[classifier]")
    return list(dict.fromkeys(items))


def real_samples(info: DataInfo, dataset_options: dict[str, Any], data_root: Path | None, host: Any) -> Callable[[int], torch.Tensor]:
    """``real(n)``: up to ``n`` samples of the dataset (evenly spread over it), built once on first use."""
    cache: dict[str, Any] = {}

    def real(n: int) -> torch.Tensor:
        if "data" not in cache:
            spec = get_host_for(host).datasets.get(info.name).with_options(dataset_options, prefix="dataset")
            cache["data"] = spec.build(data_root=data_root, seed=0)
        data = cache["data"]
        idx = torch.linspace(0, len(data) - 1, min(n, len(data))).long()
        if data.tensors is not None:
            return data.tensors[0][idx].float()
        return torch.stack([data.dataset[int(i)][0] for i in idx]).float()

    return real


def plugin_results(source: GeneratorSource, specs: Sequence[MetricSpec], *, num_samples: int | None, seed: int,
                   batch_size: int, device: str | torch.device, data_root: Path | None, host: Any) -> list[MetricResult]:
    """Results of metrics that compute themselves (:meth:`~ganzoo.MetricSpec.compute`), each with its protocol."""
    info = source.info
    ctx = MetricContext(
        info=info,
        sample=lambda n: source.sample(n, seed=seed, batch_size=batch_size, device=device),
        real=real_samples(info, source.dataset_options, data_root, host),
        num_samples=num_samples, seed=seed, device=torch.device(device),
        sample_class=class_sampler(source, seed, batch_size, device) if source.num_classes else None,
        data_root=data_root, dataset_options=dict(source.dataset_options),
    )
    out: list[MetricResult] = []
    for spec in specs:
        values = spec.compute(ctx)
        if not isinstance(values, Mapping) or not all(isinstance(values.get(k), (int, float)) for k in spec.values):
            raise GanzooError(f"metric {spec.name!r}: compute() must return a number for each of {', '.join(spec.values)}; "
                              f"got {values!r:.200}")
        protocol = {"seed": seed, "num_samples": num_samples, "metric_plugin": spec.name,
                    **{k: float(v) for k, v in values.items() if k not in spec.values}}
        out += [MetricResult(k, k, float(values[k]), protocol) for k in spec.values]
    return out


def get_host_for(host: Any) -> Any:
    return host if host is not None else get_host()


def versions() -> dict[str, str]:
    return {"ganzoo": __version__, "torch_fidelity": torch_fidelity_version(), "torch": torch.__version__}


def mode_results(
    source: GeneratorSource, *, num_samples: int | None, seed: int, batch_size: int,
    device: str | torch.device = "cpu", classifier: Any = None, data_root: Path | None = None,
    quiet: bool = True, host: Any = None,
) -> list[MetricResult]:
    """``modes`` and ``reverse_kl`` (plus ``high_quality`` for 2D data) by the dataset's mode protocol."""
    info = source.mode_info(data_root)
    protocol = mode_protocol(info)
    n = int(num_samples) if num_samples else default_num_samples(info)
    samples = source.sample(n, seed=seed, batch_size=batch_size, device=device)
    if classifier is None and protocol == "classifier":
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
    out = [MetricResult("modes", "modes", float(raw["modes"]), proto),
           MetricResult("reverse_kl", "reverse_kl", float(raw["reverse_kl"]), proto)]
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
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: str | torch.device = "cpu",
    data_root: Path | None = None,
    num_reference: int | None = None,
    prc_neighborhood: int = 3,
    quiet: bool = True,
    host: Any = None,
    extractor: Extractor | None = None,
) -> EvalReport:
    """Score ``source`` on ``metrics`` (fid, isc, kid, prc, ifid, modes or a plugin's metric; ``fid[EXTRACTOR]``: in
    that feature space rather than ``feature_extractor``'s, one torch-fidelity pass per extractor)."""
    start = time.perf_counter()
    metrics = parse_metrics(metrics, host)
    if extractor is None and any(extractor_of(m) for m in metrics):
        groups: dict[str | None, list[str]] = {}
        for m in metrics:
            named = extractor_of(m)
            groups.setdefault("classifier" if named and named.startswith("classifier") else named, []).append(base_name(m))
        reports = [evaluate(source, names, feature_extractor=space or feature_extractor, num_samples=num_samples,
                            reference=reference, feature_weights=feature_weights, seed=seed, batch_size=batch_size,
                            device=device, data_root=data_root, num_reference=num_reference,
                            prc_neighborhood=prc_neighborhood, quiet=quiet, host=host) for space, names in groups.items()]
        return EvalReport([r for rep in reports for r in rep.results], reports[0].source,
                          time.perf_counter() - start, versions())
    registry = get_host_for(host).metrics
    info = source.info
    data_root = data_root or source.data_root
    if num_samples is not None and num_samples < 2:
        raise ConfigError(f"--num-samples {num_samples}: expected at least 2 samples")
    if batch_size < 1:
        raise ConfigError(f"--batch-size {batch_size}: expected a positive number")
    image_metrics = [m for m in metrics if isinstance(registry.get(m), FidelityMetric)]
    if image_metrics and info.kind != "image":
        raise GanzooError(f"--metrics {','.join(image_metrics)}: FID/IS/KID/PRC apply to images, and dataset "
                          f"{info.name!r} is {info.kind} data; use --metrics modes")
    intra = [m for m in image_metrics if isinstance(registry.get(m), IntraClassFID)]
    if intra:
        reason = ifid_unusable(info, source.num_classes)
        if reason:
            raise GanzooError(f"--metrics {intra[0]}: {reason}")
    own = [registry.get(m) for m in metrics if not isinstance(registry.get(m), (FidelityMetric, ModeCoverage))]
    for spec in own:
        reason = spec.applies(info)
        if reason:
            raise GanzooError(f"--metrics {spec.name}: {reason}")
    results: list[MetricResult] = []
    classifier = None
    if image_metrics:
        ext = extractor or resolve_extractor(feature_extractor, info, weights=feature_weights,
                                             dataset_options=source.dataset_options, data_root=data_root,
                                             device=device, quiet=quiet, host=host)
        classifier = ext.classifier
        ref = make_reference(reference, info, dataset_options=source.dataset_options, data_root=data_root,
                             num_reference=num_reference, host=host, tag=ext.cache_tag)
        fidelity = fidelity_metrics(
            FidelityGenerator(source), ref, [m for m in image_metrics if m not in intra], ext,
            num_samples=num_samples or DEFAULT_NUM_SAMPLES, seed=seed, batch_size=batch_size, device=device,
            prc_neighborhood=prc_neighborhood, verbose=not quiet, resolution=info.resolution,
        )
        if source.num_classes:  # torch-fidelity passes G a label drawn uniformly at random for each sample
            for r in fidelity:
                r.protocol["class_sampling"] = f"uniform at random over the {source.num_classes} classes"
        results += fidelity
        if intra:
            results.append(intra_class_fid(source, ext, num_samples=num_samples or DEFAULT_NUM_SAMPLES, seed=seed,
                                           batch_size=batch_size, device=device, data_root=data_root, host=host))
    if own:
        results += plugin_results(source, own, num_samples=num_samples, seed=seed, batch_size=batch_size, device=device,
                                  data_root=data_root, host=host)
    if any(isinstance(registry.get(m), ModeCoverage) for m in metrics):
        results += mode_results(source, num_samples=num_samples, seed=seed, batch_size=batch_size, device=device,
                                classifier=classifier, data_root=data_root, quiet=quiet, host=host)
    return EvalReport(results=results, source=source.describe(), seconds=time.perf_counter() - start, versions=versions())


def score_values(source: GeneratorSource, values: Sequence[str], *, num_samples: int | None, seed: int,
                 device: str | torch.device = "cpu", **options: Any) -> tuple[dict[str, float], dict[str, Any]]:
    """``(values, details)`` of the value names ``values`` (``fid``, ``precision``, ``modes``, ``fid[classifier:shapes]``)
    for ``source``, by one :func:`evaluate` (``options`` go to it); non-finite values are left out and explained in
    ``details["notes"]``."""
    specs = {name: metric_for_value(name) for name in values}
    wanted = {name: spec.name + (name[len(base_name(name)):] if isinstance(spec, FidelityMetric) else "")
              for name, spec in specs.items()}  # value name -> metric name (with its extractor)
    out: dict[str, float] = {}
    details: dict[str, Any] = {"seed": seed, "num_samples": num_samples, "batch_size": options.get("batch_size", DEFAULT_BATCH_SIZE),
                               "metrics": {}}
    if not values:  # nothing to score (a suite may only want the samples)
        return out, details
    report = evaluate(source, list(dict.fromkeys(wanted.values())), num_samples=num_samples, seed=seed, device=device,
                      quiet=True, **options)
    details["seconds"] = report.seconds
    for name in values:
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
