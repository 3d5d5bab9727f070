"""The ``ganzoo.*`` metadata keys of an exported generator and their parsing (torch-free).

Every value is a string (ONNX ``metadata_props``); structured values are JSON.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ganzoo.runtime.errors import ModelFileError

PREFIX = "ganzoo."
VERSION = "ganzoo.version"
LATENT_DIM = "ganzoo.latent_dim"
LATENT_DISTRIBUTION = "ganzoo.latent_distribution"
SAMPLE_SHAPE = "ganzoo.sample_shape"
VALUE_RANGE = "ganzoo.value_range"
DATASET = "ganzoo.dataset"
KIND = "ganzoo.kind"
ARCHITECTURE = "ganzoo.architecture"
LOSS = "ganzoo.loss"
MITIGATIONS = "ganzoo.mitigations"
STEP = "ganzoo.step"
NUM_CLASSES = "ganzoo.num_classes"
EMA = "ganzoo.ema"
PRECISION = "ganzoo.precision"
EXPORTER = "ganzoo.exporter"
MODE_CENTRES = "ganzoo.mode_centres"

REQUIRED_KEYS: tuple[str, ...] = (
    VERSION, LATENT_DIM, LATENT_DISTRIBUTION, SAMPLE_SHAPE, VALUE_RANGE, DATASET, ARCHITECTURE, LOSS,
    MITIGATIONS, STEP, NUM_CLASSES, EMA, PRECISION,
)
"""Keys every file written by ``ganzoo export`` carries (the product contract plus ema/precision)."""

DISTRIBUTIONS = ("normal", "uniform")
"""``normal``: z ~ N(0, 1); ``uniform``: z ~ U(-1, 1)."""

INPUT_Z = "z"
INPUT_LABELS = "labels"
OUTPUT_X = "x"


@dataclass(frozen=True)
class ModelInfo:
    """What the ganzoo metadata of a model says (all None when the file has none)."""

    latent_dim: int | None = None
    latent_distribution: str = "normal"
    sample_shape: tuple[int, ...] | None = None
    value_range: tuple[float, float] | None = None
    num_classes: int | None = None
    kind: str | None = None
    precision: str | None = None
    mode_centres: tuple[tuple[float, ...], ...] | None = None
    raw: Mapping[str, str] = field(default_factory=dict)

    @property
    def has_ganzoo_metadata(self) -> bool:
        return LATENT_DIM in self.raw


MAX_SIZE = 1_000_000
"""Largest latent size, class count, image side or centre count a metadata value may give."""
MAX_SAMPLE_VALUES = 1 << 26
"""Largest number of values one sample may have (e.g. 4 x 4096 x 4096)."""


def _json(raw: Mapping[str, str], key: str, where: str) -> Any:
    try:
        return json.loads(raw[key])
    except (ValueError, TypeError):
        raise ModelFileError(f"{where}: metadata {key}={raw[key]!r} is not valid JSON") from None


def parse_metadata(raw: Mapping[str, str], where: str = "model") -> ModelInfo:
    """Read the ``ganzoo.*`` keys of ``raw``; a model without them gives an empty :class:`ModelInfo`."""
    raw = dict(raw)
    if LATENT_DIM not in raw:
        return ModelInfo(raw=raw)

    def positive_int(key: str, value: Any, maximum: int = MAX_SIZE) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
            raise ModelFileError(f"{where}: metadata {key}={raw[key]!r} is not an integer in 1..{maximum:,}")
        return value

    def finite(key: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ModelFileError(f"{where}: metadata {key}={raw[key]!r} holds {value!r}, not a finite number")
        return float(value)

    latent_dim = positive_int(LATENT_DIM, _json(raw, LATENT_DIM, where))
    dist = raw.get(LATENT_DISTRIBUTION, "normal")
    if dist not in DISTRIBUTIONS:
        raise ModelFileError(f"{where}: metadata {LATENT_DISTRIBUTION}={dist!r} is not one of {', '.join(DISTRIBUTIONS)}")
    shape = None
    if SAMPLE_SHAPE in raw:
        value = _json(raw, SAMPLE_SHAPE, where)
        if not isinstance(value, list) or not value:
            raise ModelFileError(f"{where}: metadata {SAMPLE_SHAPE}={raw[SAMPLE_SHAPE]!r} is not a list of sizes")
        shape = tuple(positive_int(SAMPLE_SHAPE, v) for v in value)
        if math.prod(shape) > MAX_SAMPLE_VALUES:
            raise ModelFileError(f"{where}: metadata {SAMPLE_SHAPE}={raw[SAMPLE_SHAPE]!r} has more than "
                                 f"{MAX_SAMPLE_VALUES:,} values per sample")
    value_range = None
    if VALUE_RANGE in raw:
        value = _json(raw, VALUE_RANGE, where)
        if not (isinstance(value, list) and len(value) == 2):
            raise ModelFileError(f"{where}: metadata {VALUE_RANGE}={raw[VALUE_RANGE]!r} is not [low, high]")
        low, high = finite(VALUE_RANGE, value[0]), finite(VALUE_RANGE, value[1])
        if not low < high:
            raise ModelFileError(f"{where}: metadata {VALUE_RANGE}={raw[VALUE_RANGE]!r} is not [low, high] with low < high")
        value_range = (low, high)
    num_classes = None
    if raw.get(NUM_CLASSES, "null") not in ("", "null"):
        num_classes = positive_int(NUM_CLASSES, _json(raw, NUM_CLASSES, where))
    centres = None
    if raw.get(MODE_CENTRES, "null") not in ("", "null"):
        value = _json(raw, MODE_CENTRES, where)
        if not (isinstance(value, list) and value and all(isinstance(c, list) and c for c in value)
                and len({len(c) for c in value}) == 1 and len(value) <= MAX_SIZE):
            raise ModelFileError(f"{where}: metadata {MODE_CENTRES} is not a list of points of one dimension")
        centres = tuple(tuple(finite(MODE_CENTRES, v) for v in c) for c in value)
    return ModelInfo(
        latent_dim=latent_dim, latent_distribution=dist, sample_shape=shape, value_range=value_range,
        num_classes=num_classes, kind=raw.get(KIND), precision=raw.get(PRECISION), mode_centres=centres, raw=raw,
    )
