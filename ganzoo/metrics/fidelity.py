"""FID, IS, KID and precision/recall through torch-fidelity.

:func:`fidelity_metrics` calls ``torch_fidelity.calculate_metrics`` once with a generator (or a
dataset) as ``input1`` and a :class:`~ganzoo.metrics.reference.Reference` as ``input2``, and returns
one :class:`MetricResult` per number, named after the extractor (``fid[classifier:mnist]``,
``fid[inception-v3-compat]``) so classifier-based numbers are never mistaken for Inception ones.
"""

from __future__ import annotations

import contextlib
import hashlib
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganzoo.errors import ConfigError, GanzooError
from ganzoo.metrics.extractors import CLASSIFIER, INCEPTION, register_extractors, resolve_inception_weights
from ganzoo.metrics.reference import Reference
from ganzoo.metrics.safe_weights import verified_weights
from ganzoo.specs import DataInfo
from ganzoo.metrics.extractors import inception_weights_cache_path
from ganzoo.metrics.classifier import get_classifier

__all__ = [
    "FIDELITY_METRICS",
    "Extractor",
    "MetricResult",
    "resolve_extractor",
    "fidelity_metrics",
    "kid_subset_size",
    "torch_fidelity_version",
]

FIDELITY_METRICS = ("fid", "isc", "kid", "prc")
KID_MAX_SUBSET = 1000
PRC_BATCH_SIZE = 5000


@dataclass
class MetricResult:
    """One reported number and the protocol that produced it."""

    key: str  # e.g. "fid[classifier:mnist]"
    metric: str  # fid | isc | isc_std | kid | kid_std | precision | recall | f_score | modes | reverse_kl | high_quality
    value: float
    protocol: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "metric": self.metric, **self.protocol}


@dataclass
class Extractor:
    """A torch-fidelity feature extractor choice: its registry name, display label and arguments."""

    name: str  # torch-fidelity registry name
    label: str  # shown in metric keys: inception-v3-compat, classifier:mnist
    kwargs: dict[str, Any] = field(default_factory=dict)
    protocol: dict[str, Any] = field(default_factory=dict)
    cache_tag: str = ""
    classifier: Any = None


def torch_fidelity_version() -> str:
    import torch_fidelity

    return str(getattr(torch_fidelity, "__version__", "unknown"))


def _weights_tag(path: Path) -> str:
    """Cache tag for a non-standard weights file (so other weights never reuse cached statistics)."""
    if path.name == inception_weights_cache_path().name:
        return ""
    return "w" + hashlib.sha256(f"{path.name}:{path.stat().st_size}".encode()).hexdigest()[:8]


def resolve_extractor(
    name: str | None,
    info: DataInfo,
    *,
    weights: Path | str | None = None,
    dataset_options: dict[str, Any] | None = None,
    data_root: Path | None = None,
    device: str | torch.device = "cpu",
    quiet: bool = True,
    host: Any = None,
) -> Extractor:
    """Turn ``--feature-extractor`` / ``--feature-weights`` into an :class:`Extractor` (weights checked now,
    so an offline machine fails before any work with one clear message)."""
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

    register_extractors()
    name = name or INCEPTION
    if name not in FEATURE_EXTRACTORS_REGISTRY:
        allowed = ", ".join(sorted(FEATURE_EXTRACTORS_REGISTRY))
        raise ConfigError(f"--feature-extractor {name!r}: unknown; allowed: {allowed}")
    if info.kind != "image":
        raise GanzooError(f"dataset {info.name!r} is vector data: FID/IS/KID/PRC apply to images only; "
                          "use --metrics modes")
    if name == CLASSIFIER:
        clf = get_classifier(info.name, stacked=info.stacked, data_root=data_root, dataset_options=dataset_options, device=str(device),
                             quiet=quiet, host=host)
        return Extractor(CLASSIFIER, clf.name, {"ganzoo_classifier": clf}, classifier=clf,
                         protocol={"classifier_accuracy": clf.accuracy, "classifier_path": clf.meta.get("path")})
    if name == INCEPTION:
        path = resolve_inception_weights(weights)
        safe = verified_weights(path, "--feature-weights" if weights else "Inception weights")
        return Extractor(INCEPTION, INCEPTION, {"feature_extractor_weights_path": str(safe)},
                         protocol={"weights": str(path)}, cache_tag=_weights_tag(path))
    kwargs: dict[str, Any] = {}
    if weights:
        p = Path(weights).expanduser()
        if not p.is_file():
            raise ConfigError(f"--feature-weights {str(weights)!r}: no such file")
        kwargs["feature_extractor_weights_path"] = str(verified_weights(p))
    return Extractor(name, name, kwargs, protocol={"weights": str(weights) if weights else None},
                     cache_tag=_weights_tag(Path(weights)) if weights else "")


def kid_subset_size(n1: int, n2: int) -> int:
    """torch-fidelity refuses subsets larger than either side; 1000 is its default."""
    return max(2, min(KID_MAX_SUBSET, n1, n2))


@contextlib.contextmanager
def _numpy_int_alias() -> Iterator[None]:
    """torch-fidelity 0.4 draws conditional labels with ``dtype=np.int``, removed in NumPy 1.24."""
    if hasattr(np, "int"):
        yield
        return
    np.int = int  # type: ignore[attr-defined]
    try:
        yield
    finally:
        del np.int  # type: ignore[attr-defined]


class _LazyBar:
    """A tqdm bar on stderr, created on the first update (nothing shows for a cache hit)."""

    def __init__(self, total: int, desc: str) -> None:
        self.total, self.desc = total, desc
        self.bar: Any = None  # a tqdm bar once created

    def update(self, n: int = 1) -> None:
        if self.bar is None:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, desc=self.desc, unit="img", file=sys.stderr, leave=False, mininterval=0.5)
        self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@contextlib.contextmanager
def _progress(enabled: bool, input1: Any, reference: Reference, n1: int, n2: int) -> Iterator[None]:
    """Progress bars for generation and reference feature extraction (torch-fidelity stays quiet)."""
    bars: list[_LazyBar] = []
    hooks: list[tuple[Any, str]] = []
    if enabled and hasattr(input1, "on_batch"):
        gen_bar = _LazyBar(n1, "scoring generated images")
        input1.on_batch = gen_bar.update
        bars.append(gen_bar)
        hooks.append((input1, "on_batch"))
    if enabled and hasattr(reference.input, "on_item") and n2:
        ref_bar = _LazyBar(n2, f"reference features ({reference.label})")
        reference.input.on_item = ref_bar.update
        bars.append(ref_bar)
        hooks.append((reference.input, "on_item"))
    try:
        yield
    finally:
        for obj, attr in hooks:
            setattr(obj, attr, None)
        for b in bars:
            b.close()


def _pick(metrics: Sequence[str]) -> dict[str, bool]:
    unknown = [m for m in metrics if m not in FIDELITY_METRICS]
    if unknown:
        raise ConfigError(f"unknown fidelity metric {unknown[0]!r}; allowed: {', '.join(FIDELITY_METRICS)}")
    return {m: m in metrics for m in FIDELITY_METRICS}


def fidelity_metrics(
    input1: Any,
    reference: Reference,
    metrics: Sequence[str],
    extractor: Extractor,
    *,
    num_samples: int | None = None,
    seed: int = 0,
    batch_size: int = 128,
    device: str | torch.device = "cpu",
    prc_neighborhood: int = 3,
    kid_subsets: int = 100,
    isc_splits: int = 10,
    verbose: bool = False,
    resolution: int | None = None,
) -> list[MetricResult]:
    """Compute ``metrics`` (subset of fid, isc, kid, prc) for ``input1`` (a torch-fidelity
    ``GenerativeModelBase``, drawing ``num_samples``, or a Dataset of uint8 images) against ``reference``."""
    import torch_fidelity
    from torch_fidelity.generative_model_base import GenerativeModelBase

    register_extractors()
    chosen = _pick(metrics)
    if not any(chosen.values()):
        return []
    is_model = isinstance(input1, GenerativeModelBase)
    n1 = int(num_samples or 0) if is_model else len(input1)  # None: the ConfigError below
    if is_model and (num_samples is None or num_samples < 2):
        raise ConfigError(f"--num-samples {num_samples}: expected at least 2 samples")
    binary = chosen["fid"] or chosen["kid"] or chosen["prc"]
    n2 = reference.num_samples() if binary else 0
    kid_size = kid_subset_size(n1, n2) if chosen["kid"] else KID_MAX_SUBSET
    splits = max(1, min(isc_splits, n1))
    cuda = torch.device(device).type == "cuda"
    kwargs: dict[str, Any] = dict(
        input1=input1,
        input2=reference.input if binary else None,
        input1_model_num_samples=n1 if is_model else None,
        input2_cache_name=reference.cache_name if binary else None,
        feature_extractor=extractor.name,
        cuda=cuda,
        batch_size=int(batch_size),
        rng_seed=int(seed),
        kid_subset_size=kid_size,
        kid_subsets=int(kid_subsets),
        isc_splits=splits,
        prc_neighborhood=int(prc_neighborhood),
        prc_batch_size=PRC_BATCH_SIZE,
        cache=True,
        cache_root=str(reference.cache_root),
        save_cpu_ram=True,  # no DataLoader worker processes: the reference is already in memory
        verbose=False,
        **extractor.kwargs,
        **(reference.fidelity_kwargs if binary else {}),
        **chosen,
    )
    with _numpy_int_alias(), _progress(verbose, input1, reference, n1, n2):
        raw = torch_fidelity.calculate_metrics(**kwargs)
    base: dict[str, Any] = {
        "extractor": extractor.label,
        "num_generated": n1,
        "seed": int(seed),
        "resolution": resolution,
        **extractor.protocol,
    }
    if binary:
        base_binary = {**base, "num_reference": n2, "reference": reference.describe()}
    from torch_fidelity.utils import resolve_feature_layer_for_metric

    def layer(m: str) -> str:
        return str(resolve_feature_layer_for_metric(m, feature_extractor=extractor.name))

    out: list[MetricResult] = []
    label = extractor.label
    if chosen["fid"]:
        out.append(MetricResult(f"fid[{label}]", "fid", float(raw["frechet_inception_distance"]),
                                {**base_binary, "feature_layer": layer("fid")}))
    if chosen["isc"]:
        proto = {**base, "feature_layer": layer("isc"), "isc_splits": splits}
        out.append(MetricResult(f"isc[{label}]", "isc", float(raw["inception_score_mean"]), proto))
        out.append(MetricResult(f"isc_std[{label}]", "isc_std", float(raw["inception_score_std"]), proto))
    if chosen["kid"]:
        proto = {**base_binary, "feature_layer": layer("kid"), "kid_subset_size": kid_size, "kid_subsets": int(kid_subsets)}
        out.append(MetricResult(f"kid[{label}]", "kid", float(raw["kernel_inception_distance_mean"]), proto))
        out.append(MetricResult(f"kid_std[{label}]", "kid_std", float(raw["kernel_inception_distance_std"]), proto))
    if chosen["prc"]:
        proto = {**base_binary, "feature_layer": layer("prc"), "prc_neighborhood": int(prc_neighborhood)}
        for key, name in (("precision", "precision"), ("recall", "recall"), ("f_score", "f_score")):
            out.append(MetricResult(f"{name}[{label}]", name, float(raw[key]), proto))
    return out
