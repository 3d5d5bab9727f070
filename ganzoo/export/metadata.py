"""The ``ganzoo.*`` metadata_props of an exported generator (keys: :mod:`ganzoo.runtime.metadata`)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ganzoo._version import __version__
from ganzoo.runtime import metadata as md


def build_metadata(
    *, info: Any, latent_dim: int, latent_distribution: str, architecture: str, loss: str = "",
    mitigations: Sequence[str] = (), step: int = 0, num_classes: int | None = None, ema: bool = False,
    precision: str = "fp32", exporter: str = "",
) -> dict[str, str]:
    """All metadata values as strings (JSON for structured ones). ``info`` is a :class:`ganzoo.DataInfo`."""
    centres = [list(map(float, c)) for c in info.mode_centres] if getattr(info, "mode_centres", None) else None
    return {
        md.VERSION: __version__,
        md.LATENT_DIM: str(int(latent_dim)),
        md.LATENT_DISTRIBUTION: str(latent_distribution),
        md.SAMPLE_SHAPE: json.dumps([int(s) for s in info.shape]),
        md.VALUE_RANGE: json.dumps([float(v) for v in info.value_range]),
        md.DATASET: str(info.name),
        md.KIND: str(info.kind),
        md.ARCHITECTURE: str(architecture),
        md.LOSS: str(loss),
        md.MITIGATIONS: json.dumps(list(mitigations)),
        md.STEP: str(int(step)),
        md.NUM_CLASSES: json.dumps(num_classes),
        md.EMA: json.dumps(bool(ema)),
        md.PRECISION: precision,
        md.EXPORTER: exporter,
        md.MODE_CENTRES: json.dumps(centres),
    }


def set_metadata(model: Any, props: Mapping[str, str]) -> None:
    """Replace ``model``'s metadata_props entries named in ``props`` (others are kept)."""
    keep = [p for p in model.metadata_props if p.key not in props]
    del model.metadata_props[:]
    for p in keep:
        model.metadata_props.add(key=p.key, value=p.value)
    for key, value in props.items():
        model.metadata_props.add(key=key, value=value)
    model.producer_name = "ganzoo"
    model.producer_version = __version__
    model.doc_string = (
        f"ganzoo generator {props.get(md.ARCHITECTURE, '')} on {props.get(md.DATASET, '')}: "
        f"input z float32 [N, {props.get(md.LATENT_DIM, '?')}] ~ {props.get(md.LATENT_DISTRIBUTION, 'normal')}, "
        f"output x float32 [N, *{props.get(md.SAMPLE_SHAPE, '?')}]"
    )
