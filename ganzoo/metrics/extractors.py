"""Feature extractors for torch-fidelity: Inception-v3 weights (local or downloaded) and ganzoo's
offline ``classifier`` extractor.

The ``classifier`` extractor wraps the domain classifier that ganzoo trains on a dataset's real data
(:func:`ganzoo.metrics.classifier.get_classifier`). It is registered with torch-fidelity under the name
``classifier`` and provides two feature layers: ``features`` (penultimate layer: FID, KID, PRC) and
``logits`` (class logits: IS). Its instance name, used in torch-fidelity's cache file names, carries a
fingerprint of the classifier's weights so a retrained classifier never reuses stale statistics.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ganzoo.errors import ConfigError, GanzooError

if TYPE_CHECKING:
    from ganzoo.metrics.classifier_model import DomainClassifier

__all__ = [
    "CLASSIFIER",
    "INCEPTION",
    "INCEPTION_URL",
    "WEIGHTS_ENV",
    "FeatureWeightsUnavailableError",
    "unavailable_message",
    "ClassifierFeatureExtractor",
    "register_extractors",
    "inception_weights_cache_path",
    "weights_available",
    "resolve_inception_weights",
    "to_unit_range",
]

CLASSIFIER = "classifier"
INCEPTION = "inception-v3-compat"
WEIGHTS_ENV = "GANZOO_FEATURE_WEIGHTS"
INCEPTION_URL = (
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth"
)
DOWNLOAD_TIMEOUT_S = 30.0


class FeatureWeightsUnavailableError(GanzooError):
    """The feature extractor's weights are neither local nor downloadable."""

    def __init__(self, reason: str, hints: str | None = None) -> None:
        self.reason = reason
        super().__init__(unavailable_message(reason, hints or CLI_HINTS))


CLI_HINTS = (
    f"pass --feature-weights PATH (or set {WEIGHTS_ENV}) to a local copy of {{file}}, or use "
    "--feature-extractor classifier for offline metrics with ganzoo's domain classifier"
)
TRAIN_HINTS = (
    f"set {WEIGHTS_ENV}=PATH to a local copy of {{file}}, or use --set train.eval_feature_extractor=classifier "
    "for offline metrics with ganzoo's domain classifier"
)


# --------------------------------------------------------------------------- Inception weights


def inception_weights_cache_path() -> Path:
    """Where torch-fidelity (``torch.hub``) keeps the downloaded Inception weights."""
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_URL.rsplit("/", 1)[-1]


def _env_weights() -> Path | None:
    value = os.environ.get(WEIGHTS_ENV, "").strip()
    return Path(value).expanduser() if value else None


def weights_available() -> bool:
    """True when Inception weights are on disk: ``$GANZOO_FEATURE_WEIGHTS`` or torch hub's cache."""
    env = _env_weights()
    return bool(env and env.is_file()) or inception_weights_cache_path().is_file()


def _download(url: str, dest: Path, timeout: float = DOWNLOAD_TIMEOUT_S) -> None:
    """Download ``url`` to ``dest`` atomically, checking the sha256 prefix in the file name."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as fh, urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310
            while chunk := resp.read(1 << 20):
                digest.update(chunk)
                fh.write(chunk)
        expected = dest.stem.rsplit("-", 1)[-1]
        if not digest.hexdigest().startswith(expected):
            raise OSError(f"checksum mismatch (expected sha256 {expected}..., got {digest.hexdigest()[:8]}...)")
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def unavailable_message(reason: str, hints: str = CLI_HINTS) -> str:
    """The one error for Inception weights that cannot be had."""
    return (
        f"the Inception-v3 weights for FID/IS/KID/PRC are not on this machine and could not be downloaded "
        f"({reason}); " + hints.format(file=inception_weights_cache_path().name)
    )


def resolve_inception_weights(explicit: Path | str | None = None, *, download: bool = True) -> Path:
    """A local Inception weights file: ``explicit``, ``$GANZOO_FEATURE_WEIGHTS``, torch hub's cache, or a
    fresh download into that cache. Raises :class:`FeatureWeightsUnavailableError` (one clear message)
    when none works."""
    for path, origin in ((explicit, "--feature-weights"), (_env_weights(), WEIGHTS_ENV)):
        if path:
            path = Path(path).expanduser()
            if not path.is_file():
                raise ConfigError(f"{origin} {str(path)!r}: no such file (expected Inception-v3 weights, "
                                  f"{inception_weights_cache_path().name})")
            return path
    cached = inception_weights_cache_path()
    if cached.is_file():
        return cached
    if not download:
        raise FeatureWeightsUnavailableError("downloads disabled")
    try:
        _download(INCEPTION_URL, cached)
    except Exception as exc:  # noqa: BLE001 - offline, proxy, HTTP error, checksum: one message
        reason = getattr(exc, "reason", None) or exc
        raise FeatureWeightsUnavailableError(f"{type(exc).__name__}: {reason}") from None
    return cached


# --------------------------------------------------------------------------- classifier extractor


def to_unit_range(x: torch.Tensor) -> torch.Tensor:
    """uint8 ``0..255`` -> float32 ``[-1, 1]``."""
    return x.to(torch.float32).div(127.5).sub(1.0)


def _fingerprint(module: nn.Module) -> str:
    h = hashlib.sha256()
    for key, value in sorted(module.state_dict().items()):
        h.update(key.encode())
        h.update(value.detach().to("cpu", torch.float64).numpy().tobytes())
    return h.hexdigest()[:10]


def _base_class() -> type:
    from torch_fidelity.feature_extractor_base import FeatureExtractorBase

    return FeatureExtractorBase


class ClassifierFeatureExtractor(_base_class()):  # type: ignore[misc]
    """torch-fidelity feature extractor over a ganzoo domain classifier.

    Input: uint8 images ``[N, 3, H, W]`` (torch-fidelity's convention); single-channel classifiers see
    the first channel (ganzoo repeats grey images to 3 channels). Pass the classifier to
    ``calculate_metrics(..., ganzoo_classifier=clf)``; torch-fidelity forwards it here.
    """

    def __init__(self, name: str, features_list: list[str], ganzoo_classifier: DomainClassifier | None = None, **kwargs: Any) -> None:
        super().__init__(name, features_list)
        if ganzoo_classifier is None:
            raise ValueError("the 'classifier' feature extractor needs calculate_metrics(ganzoo_classifier=...)")
        self.classifier = ganzoo_classifier
        dataset = str(getattr(ganzoo_classifier, "name", "classifier")).split(":", 1)[-1].replace(":", "-")
        self.name = f"{name}-{dataset}-{_fingerprint(ganzoo_classifier)}"  # torch-fidelity's cache key

    @staticmethod
    def get_provided_features_list() -> tuple[str, ...]:
        return ("features", "logits")

    @staticmethod
    def get_default_feature_layer_for_metric(metric: str) -> str:
        return {"isc": "logits", "fid": "features", "kid": "features", "prc": "features"}[metric]

    @staticmethod
    def can_be_compiled() -> bool:
        return False

    @staticmethod
    def get_dummy_input_for_compile() -> torch.Tensor:
        return torch.zeros(1, 3, 8, 8, dtype=torch.uint8)

    def _adapt(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype != torch.uint8 or x.ndim != 4:
            raise ValueError(f"expected uint8 images [N, C, H, W]; got {x.dtype} {tuple(x.shape)}")
        want = int(self.classifier.channels)
        if x.shape[1] != want:
            if want == 1:
                x = x[:, :1]
            elif x.shape[1] == 1:
                x = x.expand(-1, want, -1, -1)
            else:
                raise ValueError(f"{self.classifier.name}: expected {want} channel(s); got {x.shape[1]}")
        return to_unit_range(x)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self._adapt(x)
        out = {}
        if "features" in self.features_list:
            out["features"] = self.classifier.features(x).float()
        if "logits" in self.features_list:
            out["logits"] = self.classifier.logits(x).float()
        return tuple(out[name] for name in self.features_list)


def register_extractors() -> None:
    """Register ganzoo's extractor and noise source with torch-fidelity (idempotent)."""
    from torch_fidelity.registry import (
        FEATURE_EXTRACTORS_REGISTRY,
        NOISE_SOURCE_REGISTRY,
        register_feature_extractor,
        register_noise_source,
    )

    if CLASSIFIER not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor(CLASSIFIER, ClassifierFeatureExtractor)
    if UNIFORM_NOISE not in NOISE_SOURCE_REGISTRY:
        register_noise_source(UNIFORM_NOISE, _uniform_m1_1)


UNIFORM_NOISE = "ganzoo-uniform"
"""torch-fidelity noise source of ganzoo's ``uniform`` latent distribution, U(-1, 1)."""


def _uniform_m1_1(rng: Any, shape: tuple[int, ...]) -> torch.Tensor:
    return torch.from_numpy(rng.rand(*shape) * 2.0 - 1.0).float()
