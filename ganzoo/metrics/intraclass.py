"""Intra-class FID (``ifid``) of a class-conditional generator, through torch-fidelity.

For each class ``k`` of the dataset: ``n / num_classes`` samples generated with label ``k`` against the
real images labelled ``k`` (at most :data:`~ganzoo.metrics.reference.MAX_REFERENCE` ``/ num_classes``,
the first ones of the dataset built with the reference seed), one ``torch_fidelity.calculate_metrics``
call in the chosen extractor's feature space (Inception, or ganzoo's offline domain classifier). The
value is the mean of the per-class FIDs (Miyato & Koyama 2018, cGANs with Projection Discriminator);
the per-class values are recorded in the protocol as ``ifid_class_K``.

A generator that ignores its labels draws every class's samples from its whole distribution, so each
per-class FID compares a mixture with one class and the mean stays high even when the unconditional FID
is low. Per-class FIDs use fewer samples than a full FID and are biased upwards by it (FID's bias grows
as the sample count falls), so compare them only at equal ``--num-samples``.

Real per-class statistics are cached like the reference's (``<reference cache name>-c<K>of<C>-n<cap>``, with
the image count in a sidecar).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import torch

from ganzoo.errors import GanzooError
from ganzoo.metrics.fidelity import Extractor, MetricResult
from ganzoo.metrics.extractors import register_extractors
from ganzoo.metrics.reference import MAX_REFERENCE, REFERENCE_SEED, Reference, ganzoo_images, make_reference
from ganzoo.metrics.sources import GeneratorSource, LazyDataset, UInt8Images, class_sampler, to_uint8
from ganzoo.plugins import get_host
from ganzoo.specs import DataInfo, GanData

__all__ = ["intra_class_fid", "dataset_labels", "ifid_unusable"]


def ifid_unusable(info: DataInfo, num_classes: int) -> str | None:
    """Why intra-class FID cannot score a generator of ``info`` with ``num_classes`` label inputs (None: it can)."""
    if info.kind != "image":
        return f"ifid scores images; dataset {info.name!r} is {info.kind} data"
    if not info.num_classes:
        return f"ifid needs labelled data; dataset {info.name!r} has no classes (num_classes is unset)"
    if not num_classes:
        return "ifid needs a class-conditional generator; this one has no class labels input (train with arch.conditional=true)"
    if num_classes != info.num_classes:
        return f"ifid: the generator has {num_classes} classes and dataset {info.name!r} {info.num_classes}"
    return None


def dataset_labels(data: GanData) -> torch.Tensor:
    """The int64 labels of a built dataset, in item order."""
    if data.tensors is not None:
        return data.tensors[1].long().cpu()
    labels = getattr(data.dataset, "labels", None)
    if isinstance(labels, torch.Tensor) and labels.shape[0] == len(data):
        return labels.long().cpu()
    loader = torch.utils.data.DataLoader(data.dataset, batch_size=1024, shuffle=False, num_workers=0)
    return torch.cat([torch.as_tensor(y).long().view(-1) for _, y, *_ in loader])


class _RealByClass:
    """The dataset's real images grouped by label, built once on first use (a cache hit needs no data)."""

    def __init__(self, source: GeneratorSource, data_root: Path | None, host: Any, cap: int) -> None:
        self.source, self.data_root, self.host, self.cap = source, data_root, host, cap
        self._images: torch.Tensor | None = None
        self._labels: torch.Tensor | None = None

    def of(self, k: int) -> UInt8Images:
        if self._images is None:
            spec = self.host.datasets.get(self.source.info.name).with_options(dict(self.source.dataset_options), prefix="dataset")
            data = spec.build(data_root=self.data_root, seed=REFERENCE_SEED)
            self._images, self._labels = ganzoo_images(data, None).images, dataset_labels(data)
        assert self._labels is not None
        picked = self._images[self._labels == k][: self.cap]
        if picked.shape[0] < 2:
            raise GanzooError(f"ifid: dataset {self.source.info.name!r} has {picked.shape[0]} image(s) of class {k}; "
                              "each class needs at least 2")
        return UInt8Images(picked)


def intra_class_fid(
    source: GeneratorSource, extractor: Extractor, *, num_samples: int, seed: int = 0, batch_size: int = 128,
    device: str | torch.device = "cpu", data_root: Path | None = None, host: Any = None,
) -> MetricResult:
    """``ifid[EXTRACTOR]``: the mean over classes of the FID between ``num_samples // num_classes`` samples
    of each class and the real images of that class, with per-class values in the protocol."""
    import torch_fidelity
    from torch_fidelity.utils import resolve_feature_layer_for_metric

    info = source.info
    reason = ifid_unusable(info, source.num_classes)
    if reason:
        raise GanzooError(reason)
    host = host if host is not None else get_host()
    register_extractors()
    num_classes = int(source.num_classes)
    per_class = max(2, int(num_samples) // num_classes)
    cap = max(2, MAX_REFERENCE // num_classes)
    ref = make_reference(None, info, dataset_options=dict(source.dataset_options), data_root=data_root, host=host,
                         tag=extractor.cache_tag)
    real = _RealByClass(source, data_root, host, cap)
    sample_class = class_sampler(source, seed, batch_size, device)
    value_range = (float(info.value_range[0]), float(info.value_range[1]))
    per_fid: dict[str, float] = {}
    counts: list[int] = []
    prefix = f"{ref.cache_name}-c<K>of{num_classes}-n{cap}"
    for k in range(num_classes):
        generated = UInt8Images(to_uint8(sample_class(per_class, k), value_range))
        reals = Reference(label=f"{ref.dataset}/{ref.split} class {k}", origin="ganzoo-dataset", input=None,
                          cache_name=prefix.replace("<K>", str(k)), dataset=ref.dataset, split=ref.split,
                          options=ref.options, requested=cap, cache_root=ref.cache_root)
        reals.input = LazyDataset(functools.partial(real.of, k), on_build=reals._record)
        raw = torch_fidelity.calculate_metrics(
            input1=generated, input2=reals.input, input2_cache_name=reals.cache_name,
            fid=True, feature_extractor=extractor.name, cuda=torch.device(device).type == "cuda",
            batch_size=int(batch_size), cache=True, cache_root=str(reals.cache_root), save_cpu_ram=True, verbose=False,
            **extractor.kwargs,
        )
        per_fid[f"ifid_class_{k}"] = float(raw["frechet_inception_distance"])
        counts.append(reals.num_samples())  # from the cache's sidecar when the statistics were cached
    protocol: dict[str, Any] = {
        "extractor": extractor.label, "seed": int(seed), "resolution": info.resolution, "num_classes": num_classes,
        "num_per_class": per_class, "num_generated": per_class * num_classes, "num_reference_min": min(counts),
        "class_sampling": "each class separately (label k for class k's samples)",
        "reference": {"name": f"{ref.dataset}/{ref.split} by class", "origin": "ganzoo-dataset", "dataset": ref.dataset,
                      "split": ref.split, "options": ref.options, "seed": REFERENCE_SEED, "cache_name": prefix,
                      "max_per_class": cap, "num_samples": sum(counts)},
        "feature_layer": str(resolve_feature_layer_for_metric("fid", feature_extractor=extractor.name)),
        **extractor.protocol, **per_fid,
    }
    mean = sum(per_fid.values()) / num_classes
    return MetricResult(f"ifid[{extractor.label}]", "ifid", mean, protocol)
