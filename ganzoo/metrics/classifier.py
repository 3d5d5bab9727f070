"""Domain classifiers: small CNNs that ganzoo trains on a dataset's real labelled data and caches.

Use :func:`get_classifier`; it returns a :class:`DomainClassifier` (see
:mod:`ganzoo.metrics.classifier_model`) with ``predict``, ``logits``, ``features`` and
``assign_modes``. The first call for a dataset trains the classifier (seconds to a minute on a CPU)
on 85% of the real data and measures its accuracy on the other 15%; later calls load it from the
cache (:mod:`ganzoo.metrics.classifier_cache`).

Stacked datasets (``stacked-mnist``) use the classifier of their base dataset (``mnist``) at the same
resolution, applied to each channel separately.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ganzoo import __version__
from ganzoo.errors import GanzooError
from ganzoo.metrics.classifier_cache import (
    CacheInvalid,
    cache_lock,
    cache_path,
    default_cache_dir,
    load_classifier,
    normalise_options,
    save_classifier,
)
from ganzoo.metrics.classifier_model import FEATURE_DIM, ClassifierNet, DomainClassifier
from ganzoo.metrics.classifier_train import TrainSettings, train_classifier
from ganzoo.plugins import get_host

__all__ = [
    "DomainClassifier",
    "ClassifierNet",
    "FEATURE_DIM",
    "get_classifier",
    "classifier_data",
]

def _resolve_options(host: Any, dataset: str, base: str, options: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The configured ``base`` dataset spec and its resolved options (validated against ``dataset``,
    whose images stack ``base``'s when the two differ)."""
    options = dict(options)
    if base != dataset:
        if dataset in host.datasets:  # validate against the stacked dataset; keep what the base understands
            options = dict(host.datasets.get(dataset).with_options(options, prefix="dataset").opts)
        base_spec = host.datasets.get(base)
        options = {k: v for k, v in options.items() if k in base_spec.options}
    configured = host.datasets.get(base).with_options(options, prefix="dataset")
    return configured, dict(configured.opts)


def classifier_data(data: Any) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Images ``[N, C, H, W]``, labels ``[N]`` and the number of classes of a built :class:`GanData`."""
    info = data.info
    if info.kind != "image":
        raise GanzooError(f"dataset {info.name!r} is not image data; domain classifiers need labelled images")
    num_classes = info.num_classes or info.num_modes
    if not num_classes:
        raise GanzooError(f"dataset {info.name!r} has no labels (num_classes is unset); cannot train a classifier")
    if data.tensors is not None:
        x, y = data.tensors
    else:
        loader = torch.utils.data.DataLoader(data.dataset, batch_size=1024, shuffle=False, num_workers=0)
        xs, ys = zip(*[(xb, yb) for xb, yb in loader]) if len(data.dataset) else ((), ())
        if not xs:
            raise GanzooError(f"dataset {info.name!r} is empty; cannot train a classifier")
        x, y = torch.cat(xs), torch.cat(ys)
    x, y = x.float(), torch.as_tensor(y).long().reshape(-1)
    if x.ndim != 4 or x.shape[0] != y.shape[0]:
        raise GanzooError(f"dataset {info.name!r}: expected images [N, C, H, W] with one label each; "
                          f"got {tuple(x.shape)} and {tuple(y.shape)}")
    if y.numel() == 0 or int(y.min()) < 0 or int(y.max()) >= num_classes:
        raise GanzooError(f"dataset {info.name!r}: labels must lie in 0..{num_classes - 1} to train a classifier "
                          "(unlabelled data has label -1)")
    return x, y, int(num_classes)


def _log(quiet: bool, message: str) -> None:
    if not quiet:
        print(f"[ganzoo] {message}", file=sys.stderr, flush=True)


MAX_TRAIN_ITEMS = 40_000
"""At most this many real images (a random subset) are used to train and test a classifier."""


def _train_and_save(
    configured: Any, path: Path, *, data_root: Path | None, seed: int, device: str, quiet: bool
) -> tuple[ClassifierNet, dict[str, Any]]:
    start = time.perf_counter()
    _log(quiet, f"training the domain classifier for {configured.name!r} (once; cached at {path})")
    data = configured.build(data_root=data_root, seed=seed)
    x, y, num_classes = classifier_data(data)
    if x.shape[0] > MAX_TRAIN_ITEMS:
        keep = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed + 17))[:MAX_TRAIN_ITEMS]
        x, y = x[keep], y[keep]
    result = train_classifier(x, y, num_classes, seed=seed, settings=TrainSettings(), device=device,
                              progress=None if quiet else lambda m: _log(False, m))
    meta = {
        "dataset": configured.name,
        "options": normalise_options(configured.opts),
        "seed": int(seed),
        "channels": int(result.net.channels),
        "resolution": int(result.net.resolution),
        "data_resolution": int(x.shape[-1]),
        "num_classes": int(num_classes),
        "accuracy": float(result.accuracy),
        "num_train": result.num_train,
        "num_holdout": result.num_holdout,
        "epochs": result.epochs,
        "train_seconds": round(time.perf_counter() - start, 3),
        "ganzoo_version": __version__,
    }
    try:
        save_classifier(path, result.net, meta)
    except OSError as exc:
        warnings.warn(f"could not cache the classifier at {path} ({exc}); it will be trained again next time",
                      stacklevel=3)
    _log(quiet, f"classifier for {configured.name!r}: held-out accuracy {result.accuracy:.4f} "
                f"({meta['train_seconds']:.1f} s)")
    return result.net, meta


def get_classifier(
    dataset: str,
    *,
    stacked: tuple[str, int] | None = None,
    data_root: Path | None = None,
    dataset_options: Mapping[str, Any] | None = None,
    cache_dir: Path | None = None,
    device: str = "cpu",
    seed: int = 0,
    quiet: bool = True,
    host: Any = None,
    retrain: bool = False,
) -> DomainClassifier:
    """The domain classifier of ``dataset``, trained on its real data on first use and cached.

    ``stacked`` is ``(base dataset, channels)`` when each channel of ``dataset`` is an image of the base
    dataset (``DataInfo.stacked``): the classifier is then the base dataset's, applied per channel.
    ``dataset_options`` are the dataset's options (e.g. ``{"split": "test", "resolution": 32}``); the
    cache is keyed by the dataset, its resolved options and ``seed``. ``seed`` is the classifier's own
    training seed, not a run's: leave it at 0 so that every run is measured with the same classifier.
    ``host`` is the plugin host to find the dataset in (default: the global one). ``retrain`` ignores
    the cache. A corrupt or stale cache file is replaced, with a warning.
    """
    if host is None:
        host = get_host()
    base, channels = stacked or (dataset, 0)
    configured, options = _resolve_options(host, dataset, base, dataset_options or {})
    path = cache_path(Path(cache_dir) if cache_dir is not None else default_cache_dir(), base, options, seed)
    with cache_lock(path):
        net = meta = None
        if not retrain and path.exists():
            try:
                net, meta = load_classifier(path, dataset=base, options=options, seed=seed)
                _log(quiet, f"loaded the classifier for {base!r} from {path}")
            except CacheInvalid as exc:
                warnings.warn(f"ignoring the cached classifier ({exc}); training it again", stacklevel=2)
        if net is None or meta is None:
            net, meta = _train_and_save(configured, path, data_root=data_root, seed=seed, device=device, quiet=quiet)
    if channels and net.channels != 1:
        raise GanzooError(f"{dataset!r} needs a single-channel {base!r} classifier; got {net.channels} channels")
    name = f"classifier:{base}" + (":per-channel" if channels else "")
    meta = {**meta, "path": str(path)}
    return DomainClassifier(net.to(device), name=name, accuracy=meta["accuracy"], meta=meta, stacked=channels)
